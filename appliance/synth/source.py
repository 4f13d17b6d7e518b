"""One corpus' audio timeline, prepared for the synthesizer."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)  # eq=False: compared by identity, arrays have no truth value
class Source:
    """A corpus' audio at the output rate, its keyframe grid and its measured loudness.

    ``audio`` is float32 ``(frames, channels)``, C-contiguous, 1 or 2 channels.
    ``keyframe_times`` is float64 ``(K,)`` in seconds, strictly ascending, first 0.0;
    keyframe k spans [t_k, t_{k+1}) and the last one runs to the end of the audio.
    ``loudness_lufs`` is what :func:`~appliance.synth.measure_loudness` returns for
    ``audio`` (the corpus builder stores it in the manifest).
    """

    audio: np.ndarray
    keyframe_times: np.ndarray
    loudness_lufs: float

    def __post_init__(self) -> None:
        a = self.audio
        if not isinstance(a, np.ndarray) or a.dtype != np.float32 or a.ndim != 2:
            raise ValueError("Source.audio must be a float32 array of shape (frames, channels)")
        if a.shape[1] not in (1, 2) or a.shape[0] < 1 or not a.flags.c_contiguous:
            raise ValueError(
                f"Source.audio must be C-contiguous with 1 or 2 channels and at least one "
                f"frame, not shape {a.shape}"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError("Source.audio contains NaN or infinity")
        t = self.keyframe_times
        if not isinstance(t, np.ndarray) or t.dtype != np.float64 or t.ndim != 1 or t.size < 1:
            raise ValueError("Source.keyframe_times must be a non-empty float64 array (K,)")
        if t[0] != 0.0 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0.0):
            raise ValueError("Source.keyframe_times must start at 0.0 and strictly ascend")
        if not math.isfinite(self.loudness_lufs):
            raise ValueError(f"Source.loudness_lufs must be finite, not {self.loudness_lufs!r}")

    @property
    def frames(self) -> int:
        """Length of the timeline, samples (frames)."""
        return int(self.audio.shape[0])

    @property
    def channels(self) -> int:
        return int(self.audio.shape[1])

    @property
    def keyframes(self) -> int:
        """K, the number of keyframes (length of every p for this source)."""
        return int(self.keyframe_times.shape[0])

    @classmethod
    def from_audio(
        cls,
        audio: np.ndarray,
        sample_rate: int,
        keyframe_times: np.ndarray | None = None,
        keyframe_period_s: float = 1.0,
        loudness_lufs: float | None = None,
    ) -> Source:
        """Build a Source from any float audio ``(frames,)`` or ``(frames, channels)``.

        Without ``keyframe_times`` keyframes are every ``keyframe_period_s`` seconds;
        without ``loudness_lufs`` it is measured (BS.1770, see ``measure_loudness``).
        """
        from appliance.synth.loudness import measure_loudness

        a = np.asarray(audio, dtype=np.float32)
        if a.ndim == 1:
            a = a[:, None]
        a = np.ascontiguousarray(a)
        if keyframe_times is None:
            duration = a.shape[0] / sample_rate
            keyframe_times = np.arange(0.0, max(duration, 1e-9), keyframe_period_s)
        times = np.ascontiguousarray(keyframe_times, dtype=np.float64)
        if loudness_lufs is None:
            loudness_lufs = measure_loudness(a, sample_rate)
        return cls(a, times, float(loudness_lufs))
