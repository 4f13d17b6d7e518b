"""The small interface every audio sink implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class AudioSink(Protocol):
    """Consumes interleaved int16 stereo blocks of ``block_size`` frames.

    ``write`` blocks until the sink has room (that is what paces the audio
    thread); it never raises for an underrun (counted in ``xruns``) and raises
    :class:`appliance.errors.AudioDeviceError` only when the device is gone.

    A block is ``block_size * channels`` interleaved samples (flat, or shaped
    ``(frames, channels)``); the implementations also take int32 blocks when
    their ``sample_format`` is ``"S32_LE"`` (int16 is ``"S16_LE"``), and a
    shorter final block. ``open`` is harmless on an open sink and ``close``
    on a closed one; :func:`appliance.audio.open_sink` returns sinks already
    open. Sinks that model real time also count ``deadline_misses``.
    """

    description: str
    sample_rate: int
    channels: int
    block_size: int
    xruns: int

    def open(self) -> None: ...

    def write(self, block: np.ndarray) -> None: ...

    def close(self) -> None: ...
