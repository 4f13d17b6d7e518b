"""A sink that writes a WAV file, as fast as it is fed (offline rendering)."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

from appliance.audio.formats import check_block, sample_dtype
from appliance.errors import AudioDeviceError


class WavSink:
    """Writes blocks to a PCM WAV file (16- or 32-bit, interleaved) and never waits.

    The file is written as blocks arrive and its header is patched after
    each one, so a long render does not hold its audio in memory and the
    file stays readable even if the process dies before :meth:`close`.
    ``sample_rate`` in Hz, ``block_size`` in frames.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sample_rate: int = 48000,
        block_size: int = 512,
        sample_format: str = "S16_LE",
        *,
        channels: int = 2,
    ) -> None:
        self.path = Path(path)
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self.block_size = int(block_size)
        self.sample_format = sample_format
        self._dtype = sample_dtype(sample_format)
        self.xruns = 0
        self.deadline_misses = 0
        self.blocks_written = 0
        self.frames_written = 0
        self.description = f"WAV file {self.path} ({self.sample_rate} Hz, {sample_format})"
        self._wav: wave.Wave_write | None = None

    @property
    def duration_s(self) -> float:
        """Seconds of audio written so far."""
        return self.frames_written / self.sample_rate

    def open(self) -> None:
        """Create (or truncate) the file. Harmless when already open."""
        if self._wav is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            wav = wave.open(str(self.path), "wb")  # noqa: SIM115 - stays open until close()
        except OSError as exc:
            raise AudioDeviceError(f"cannot write the WAV file {self.path}: {exc}") from exc
        wav.setnchannels(self.channels)
        wav.setsampwidth(self._dtype.itemsize)
        wav.setframerate(self.sample_rate)
        self._wav = wav
        self.blocks_written = self.frames_written = 0

    def write(self, block: np.ndarray) -> None:
        """Append ``block`` (interleaved samples) to the file."""
        if self._wav is None:
            raise AudioDeviceError(f"{self.description} is not open; call open() first")
        data = check_block(
            block, channels=self.channels, block_size=self.block_size,
            sample_format=self.sample_format,
        )
        try:
            self._wav.writeframes(data.tobytes())
        except OSError as exc:
            raise AudioDeviceError(f"cannot write the WAV file {self.path}: {exc}") from exc
        self.blocks_written += 1
        self.frames_written += data.size // self.channels

    def write_silence_frames(self, frames: int) -> None:
        """Append ``frames`` frames of silence (what a listener heard during a dropout)."""
        if frames <= 0 or self._wav is None:
            return
        try:
            self._wav.writeframes(bytes(frames * self.channels * self._dtype.itemsize))
        except OSError as exc:
            raise AudioDeviceError(f"cannot write the WAV file {self.path}: {exc}") from exc
        self.frames_written += frames

    def close(self) -> None:
        """Finish the header and close the file. Harmless when already closed."""
        wav, self._wav = self._wav, None
        if wav is not None:
            try:
                wav.close()
            except OSError as exc:
                raise AudioDeviceError(f"cannot finish the WAV file {self.path}: {exc}") from exc

    def __enter__(self) -> WavSink:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
