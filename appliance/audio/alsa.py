"""ALSA playback through pyalsaaudio (``pip install pyalsaaudio``, needs ``libasound2-dev``).

pyalsaaudio is imported only when a sink is opened, so this module imports
anywhere. It needs pyalsaaudio 0.10 or later (the keyword constructor with
``periods``, and ``PCM.info()``).

Underruns are not errors: pyalsaaudio's ``write`` returns ``-EPIPE`` after
re-preparing the stream, and :class:`AlsaSink` writes the block again and
counts the xrun. A device that is gone (a USB DAC unplugged, a card not up
yet at boot) raises :class:`~appliance.errors.AudioDeviceError`; wrap the
sink in :class:`~appliance.audio.retry.RetryingSink` to keep the rest running
while it comes back.
"""

from __future__ import annotations

import errno
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from appliance.audio.formats import check_block, sample_dtype
from appliance.errors import AudioDeviceError

log = logging.getLogger(__name__)

#: How to install pyalsaaudio, for error messages.
PYALSAAUDIO_FIX = (
    "pip install pyalsaaudio (it compiles against ALSA: sudo apt install libasound2-dev "
    "first), or pip install -e '.[pi]'"
)
PROC_CARDS = Path("/proc/asound/cards")

_CARD_LINE = re.compile(r"^\s*(\d+)\s+\[([^\]]*)\]:\s*(.*)$")


def proc_asound_cards(path: Path | str = PROC_CARDS) -> list[str]:
    """The kernel's sound cards, e.g. ``"card 1 [Device]: USB-Audio - USB Audio Device"``.

    ``[]`` when there are none or the file is missing (no ALSA). Never raises.
    """
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    cards = []
    for line in text.splitlines():
        match = _CARD_LINE.match(line)
        if match:
            number, ident, desc = match.groups()
            cards.append(f"card {number} [{ident.strip()}]: {desc.strip()}")
    return cards


def list_alsa_devices() -> list[str]:
    """Sound cards and playback PCM names, one per line, for ``soundscape doctor``. Never raises.

    With pyalsaaudio: its cards and ``alsa:<pcm>`` specs (the names
    ``aplay -L`` shows). Without it: the cards in ``/proc/asound/cards``.
    """
    try:
        import alsaaudio
    except ImportError:
        return proc_asound_cards()
    lines: list[str] = []
    try:
        try:
            for i in alsaaudio.card_indexes():
                name, longname = alsaaudio.card_name(i)
                lines.append(f"card {i}: {name} — {longname}")
        except AttributeError:  # older pyalsaaudio
            lines.extend(f"card {name}" for name in alsaaudio.cards())
        lines.extend(f"alsa:{pcm}" for pcm in alsaaudio.pcms(alsaaudio.PCM_PLAYBACK))
    except Exception as exc:  # ALSAAudioError and anything odd: doctor must not crash
        log.debug("pyalsaaudio could not list devices: %s", exc)
        return lines or proc_asound_cards()
    return lines


class AlsaSink:
    """Plays interleaved blocks on an ALSA PCM (``"default"``, ``"plughw:1"``, ``"hw:CARD=..."``).

    Asks for ``sample_rate`` Hz, 2 channels, ``sample_format`` and a buffer of
    ``periods`` periods of ``block_size`` frames, then checks what ALSA
    granted (``PCM.info()``): a different rate, channel count or format
    raises :class:`AudioDeviceError` naming the device and both values (use
    a ``plughw:`` or ``default`` device, which convert); a different period
    size is accepted (blocks are still written whole; :attr:`period_size`
    and :attr:`latency_s` report what was granted).

    ``write`` blocks while the card's buffer is full, which paces the caller.
    """

    def __init__(
        self,
        device: str = "default",
        sample_rate: int = 48000,
        block_size: int = 512,
        periods: int = 4,
        sample_format: str = "S16_LE",
        *,
        channels: int = 2,
    ) -> None:
        sample_dtype(sample_format)
        self.device = device
        self.sample_rate = int(sample_rate)
        self.block_size = int(block_size)
        self.periods = int(periods)
        self.sample_format = sample_format
        self.channels = int(channels)
        self.xruns = 0
        self.blocks_written = 0
        self.frames_written = 0
        #: Period size and buffer size ALSA granted, in frames (0 until opened).
        self.period_size = 0
        self.buffer_size = 0
        self.description = f"ALSA device {device!r}"
        self._alsa: Any = None
        self._pcm: Any = None

    @property
    def latency_s(self) -> float:
        """Depth of the card's buffer in seconds (0 until opened)."""
        return self.buffer_size / self.sample_rate

    def open(self) -> None:
        """Open and configure the PCM. Harmless when already open."""
        if self._pcm is not None:
            return
        try:
            import alsaaudio
        except ImportError as exc:
            raise AudioDeviceError(
                f"cannot open ALSA device {self.device!r}: pyalsaaudio is not installed "
                f"({exc}); {PYALSAAUDIO_FIX}"
            ) from exc
        fmt = getattr(alsaaudio, f"PCM_FORMAT_{self.sample_format}")
        try:
            pcm = alsaaudio.PCM(
                type=alsaaudio.PCM_PLAYBACK,
                mode=alsaaudio.PCM_NORMAL,
                device=self.device,
                channels=self.channels,
                rate=self.sample_rate,
                format=fmt,
                periodsize=self.block_size,
                periods=self.periods,
            )
        except TypeError as exc:  # no `periods` keyword
            raise AudioDeviceError(
                f"pyalsaaudio is too old for ALSA device {self.device!r} ({exc}); "
                "pip install 'pyalsaaudio>=0.10'"
            ) from exc
        except alsaaudio.ALSAAudioError as exc:
            raise AudioDeviceError(
                f"cannot open ALSA device {self.device!r}: {exc}; is the sound card (USB DAC) "
                "plugged in? aplay -l lists the cards, aplay -L the device names"
            ) from exc
        try:
            info = pcm.info()
            self._check_granted(info, fmt)
        except AttributeError as exc:
            pcm.close()
            raise AudioDeviceError(
                f"pyalsaaudio is too old for ALSA device {self.device!r} (no PCM.info()); "
                "pip install 'pyalsaaudio>=0.10'"
            ) from exc
        except AudioDeviceError:
            pcm.close()
            raise
        self._alsa, self._pcm = alsaaudio, pcm
        self.period_size = int(info.get("period_size", self.block_size))
        self.buffer_size = int(info.get("buffer_size", self.period_size * self.periods))
        card = pcm.cardname() if hasattr(pcm, "cardname") else ""
        self.description = (
            f"ALSA device {self.device!r}" + (f" ({card})" if card and card != self.device else "")
            + f": {self.sample_rate} Hz, {self.sample_format}, period {self.period_size} frames, "
            f"buffer {self.buffer_size} frames ({1000 * self.latency_s:.0f} ms)"
        )
        if self.period_size != self.block_size:
            log.info("%s: asked for %d-frame periods, got %d", self.device, self.block_size,
                     self.period_size)
        log.info("opened %s", self.description)

    def _check_granted(self, info: dict[str, Any], fmt: int) -> None:
        problems = []
        if int(info.get("rate", self.sample_rate)) != self.sample_rate:
            problems.append(f"asked for {self.sample_rate} Hz, got {info['rate']} Hz")
        if int(info.get("channels", self.channels)) != self.channels:
            problems.append(f"asked for {self.channels} channels, got {info['channels']}")
        if int(info.get("format", fmt)) != fmt:
            got = info.get("format_name", info["format"])
            problems.append(f"asked for {self.sample_format}, got {got}")
        if problems:
            raise AudioDeviceError(
                f"ALSA device {self.device!r} " + "; ".join(problems)
                + "; use a converting device instead (plughw:<card> or default)"
            )

    def write(self, block: np.ndarray) -> None:
        """Play ``block``; blocks while the card's buffer is full. Underruns are counted."""
        if self._pcm is None:
            raise AudioDeviceError(f"{self.description} is not open; call open() first")
        data = check_block(
            block, channels=self.channels, block_size=self.block_size,
            sample_format=self.sample_format,
        )
        frame_bytes = self.channels * data.itemsize
        view = memoryview(data).cast("B")
        for _attempt in range(8):
            try:
                written = self._pcm.write(view)
            except self._alsa.ALSAAudioError as exc:
                raise AudioDeviceError(
                    f"ALSA device {self.device!r} stopped accepting audio: {exc}; was the sound "
                    "card unplugged?"
                ) from exc
            if written == -errno.EPIPE or written < 0:
                self.xruns += 1  # the stream was re-prepared: write the block again
                continue
            if written * frame_bytes >= len(view):
                break
            view = view[written * frame_bytes :]  # a short write (a signal): finish it
        else:
            log.warning("%s: gave up on a block after repeated underruns", self.device)
        self.blocks_written += 1
        self.frames_written += data.size // self.channels

    def close(self) -> None:
        """Let the buffered audio play out, then close. Harmless when already closed."""
        pcm, self._pcm = self._pcm, None
        if pcm is None:
            return
        try:
            pcm.drain()
        except Exception as exc:  # a vanished device: nothing to drain
            log.debug("%s: drain failed: %s", self.device, exc)
        try:
            pcm.close()
        except Exception as exc:
            log.debug("%s: close failed: %s", self.device, exc)

    def __enter__(self) -> AlsaSink:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
