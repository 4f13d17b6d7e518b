"""A sink that consumes audio in real time, like a sound card, and reports every dropout.

ALSA's ``null`` device accepts audio as fast as it is written, so it cannot
show whether the synthesizer keeps up. :class:`PacedSink` models a card with
a ring buffer of ``buffer_blocks`` periods of ``block_size`` frames:

* the card starts playing at the first :meth:`~PacedSink.write` and plays
  ``sample_rate`` frames a second from then on;
* ``write`` returns once the block is in the buffer, sleeping while the buffer
  is full (a block fits once the block before the last ``buffer_blocks`` has
  finished playing: ``play start + block duration - buffer depth``);
* a block that arrives after its play start (the moment the buffer ran dry)
  is a **deadline miss** (an underrun: ``xruns`` counts them too). Its
  lateness in seconds, the silence a listener heard, goes into
  :attr:`~PacedSink.lateness_s`, and the card re-anchors its clock so this
  block plays now, as a real card does when it restarts after an xrun.

With ``record`` it also writes what a listener would have heard to a WAV
file, silences of the dropouts included.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from appliance.audio.formats import check_block, sample_dtype
from appliance.audio.wav import WavSink
from appliance.errors import AudioDeviceError


class PacedSink:
    """Consumes blocks at ``sample_rate`` frames per second through a ``buffer_blocks`` buffer.

    ``sample_rate`` in Hz, ``block_size`` in frames; the buffer holds
    ``buffer_blocks * block_size`` frames (:attr:`buffer_s` seconds).
    """

    def __init__(
        self,
        sample_rate: int = 48000,
        block_size: int = 512,
        buffer_blocks: int = 4,
        record: str | os.PathLike[str] | None = None,
        *,
        channels: int = 2,
        sample_format: str = "S16_LE",
    ) -> None:
        if buffer_blocks < 1:
            raise ValueError(f"buffer_blocks must be at least 1, not {buffer_blocks}")
        sample_dtype(sample_format)
        self.sample_rate = int(sample_rate)
        self.block_size = int(block_size)
        self.buffer_blocks = int(buffer_blocks)
        self.channels = int(channels)
        self.sample_format = sample_format
        self.record = Path(record) if record is not None else None
        self.description = (
            f"paced real-time sink ({self.sample_rate} Hz, {self.buffer_blocks}×"
            f"{self.block_size}-frame buffer)"
            + (f" recording to {self.record}" if self.record else "")
        )
        self._wav: WavSink | None = None
        self._open = False
        self._reset()

    def _reset(self) -> None:
        #: Underruns (equal to :attr:`deadline_misses`: each miss is one).
        self.xruns = 0
        #: Blocks that arrived after the buffer had run dry.
        self.deadline_misses = 0
        #: Lateness of each miss, in seconds (the silence heard).
        self.lateness_s: list[float] = []
        #: Where each miss's silence sits in what a listener heard (the ``record`` file):
        #: (first frame, frames), so a recording's silences can be told from the music's.
        self.dropouts: list[tuple[int, int]] = []
        self._heard_offset = 0  # frames heard in the recording minus frames_written
        #: Longest time the writer spent between two writes (outside ``write``), in seconds.
        self.longest_write_interval_s = 0.0
        self.blocks_written = 0
        #: Frames consumed (excluding the silences of misses).
        self.frames_written = 0
        self._anchor: float | None = None  # monotonic time frame 0 (re-anchored) plays
        self._anchor_frames = 0  # frames_written at the anchor
        self._last_write: float | None = None

    @property
    def buffer_s(self) -> float:
        """Depth of the buffer in seconds."""
        return self.buffer_blocks * self.block_size / self.sample_rate

    @property
    def longest_gap_s(self) -> float:
        """The longest silence a listener heard (0 when there was none), in seconds."""
        return max(self.lateness_s, default=0.0)

    def open(self) -> None:
        """Get ready; the clock starts at the first write. Harmless when already open.

        Counters add up over the sink's life (a reopen keeps them); a reopen
        starts the ``record`` file afresh.
        """
        if self._open:
            return
        self._anchor, self._last_write = None, None
        if self.record is not None:  # a new recording: dropouts count from its start
            self.dropouts, self._heard_offset = [], -self.frames_written
            self._wav = WavSink(
                self.record, self.sample_rate, self.block_size, self.sample_format,
                channels=self.channels,
            )
            self._wav.open()
        self._open = True

    def write(self, block: np.ndarray) -> None:
        """Queue ``block``: sleeps while the buffer is full; records a miss if it ran dry."""
        if not self._open:
            raise AudioDeviceError(f"{self.description} is not open; call open() first")
        data = check_block(
            block, channels=self.channels, block_size=self.block_size,
            sample_format=self.sample_format,
        )
        frames = data.size // self.channels
        now = time.monotonic()
        if self._last_write is not None:
            self.longest_write_interval_s = max(
                self.longest_write_interval_s, now - self._last_write
            )
        if self._anchor is None:
            self._anchor, self._anchor_frames = now, self.frames_written
        rate = self.sample_rate
        play_at = self._anchor + (self.frames_written - self._anchor_frames) / rate
        if now > play_at:  # the buffer ran dry at play_at: an underrun
            late = now - play_at
            self.deadline_misses += 1
            self.xruns += 1
            self.lateness_s.append(late)
            silent = round(late * rate)
            self.dropouts.append((self.frames_written + self._heard_offset, silent))
            self._heard_offset += silent
            if self._wav is not None:
                self._wav.write_silence_frames(silent)
            self._anchor, self._anchor_frames = now, self.frames_written
        else:
            room_at = play_at + frames / rate - self.buffer_s
            if room_at > now:
                time.sleep(room_at - now)
        if self._wav is not None:
            self._wav.write(data)
        self.frames_written += frames
        self.blocks_written += 1
        self._last_write = time.monotonic()

    def close(self) -> None:
        """Stop (buffered audio is dropped, not waited for) and finish the recording."""
        self._open = False
        wav, self._wav = self._wav, None
        if wav is not None:
            wav.close()

    def __enter__(self) -> PacedSink:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
