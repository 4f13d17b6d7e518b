"""One corpus' audio timeline, prepared for the synthesizer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from appliance.corpus.fileformat import Corpus

from appliance.synth.layout import PCM_SCALE

#: Full scale of the int16 samples the kernel reads: it plays ``pcm / PCM_FULL_SCALE``.
PCM_FULL_SCALE = 1.0 / PCM_SCALE


def to_pcm(audio: np.ndarray) -> np.ndarray:
    """float audio, full scale ±1 → int16 PCM the kernel reads at 1/32768 (rounded, clipped).

    Plain rounding, no dither, as the corpus builder writes its audio: the error is
    white at −101 dBFS RMS, under the noise floor of any field recording.
    """
    x = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    x *= np.float32(PCM_FULL_SCALE)  # a power of two: exact
    np.rint(x, out=x)
    np.minimum(x, np.float32(32767.0), out=x)
    return np.ascontiguousarray(x.astype(np.int16))


@dataclass(frozen=True, eq=False)  # eq=False: compared by identity, arrays have no truth value
class Source:
    """A corpus' audio at the output rate, its keyframe grid and its measured loudness.

    ``audio`` is ``(frames, channels)``, C-contiguous, 1 or 2 channels, either int16 PCM
    (played at full scale 32768; a read-only ``np.memmap`` is used in place, never read
    whole nor copied) or float32 at full scale ±1.
    ``keyframe_times`` is float64 ``(K,)`` in seconds, strictly ascending, first 0.0;
    keyframe k spans [t_k, t_{k+1}) and the last one runs to the end of the audio.
    ``loudness_lufs`` is what :func:`~appliance.synth.measure_loudness` returns for
    ``audio`` as it plays (the corpus builder stores it in the manifest).
    ``keyframe_loudness_lufs`` is None or float64 ``(K,)``: the loudness (LUFS, measured
    the same way) around each keyframe's span, for the level balance (``balance.py``).

    ``pcm`` is what the kernel reads: int16 ``(frames, channels)``. For int16 ``audio``
    it is a plain-ndarray view of the same memory; float32 ``audio`` is quantized once
    here (:func:`to_pcm`). The kernel has one compiled signature (int16 only), so a
    crossfade between any two sources needs nothing more, compile time stays that of
    one kernel, and a corpus plays from the page cache.
    """

    audio: np.ndarray
    keyframe_times: np.ndarray
    loudness_lufs: float
    keyframe_loudness_lufs: np.ndarray | None = None
    pcm: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        a = self.audio
        if not isinstance(a, np.ndarray) or a.dtype not in (np.int16, np.float32) or a.ndim != 2:
            raise ValueError(
                "Source.audio must be an int16 or float32 array of shape (frames, channels)"
            )
        if a.shape[1] not in (1, 2) or a.shape[0] < 1 or not a.flags.c_contiguous:
            raise ValueError(
                f"Source.audio must be C-contiguous with 1 or 2 channels and at least one "
                f"frame, not shape {a.shape}"
            )
        if a.dtype == np.float32:
            if not np.all(np.isfinite(a)):
                raise ValueError("Source.audio contains NaN or infinity")
            pcm = to_pcm(a)
        else:  # int16: no scan and no copy (a memmap is paged in grain by grain)
            pcm = a.view(np.ndarray)  # a plain ndarray: Numba types it on its fast path
        object.__setattr__(self, "pcm", pcm)
        t = self.keyframe_times
        if not isinstance(t, np.ndarray) or t.dtype != np.float64 or t.ndim != 1 or t.size < 1:
            raise ValueError("Source.keyframe_times must be a non-empty float64 array (K,)")
        if t[0] != 0.0 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0.0):
            raise ValueError("Source.keyframe_times must start at 0.0 and strictly ascend")
        if not math.isfinite(self.loudness_lufs):
            raise ValueError(f"Source.loudness_lufs must be finite, not {self.loudness_lufs!r}")
        kl = self.keyframe_loudness_lufs
        if kl is not None and (
            not isinstance(kl, np.ndarray)
            or kl.shape != t.shape
            or not np.all(np.isfinite(kl))
        ):
            raise ValueError(
                "Source.keyframe_loudness_lufs must be None or one finite figure per keyframe"
            )

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
        """Build a Source from audio ``(frames,)`` or ``(frames, channels)``: int16 PCM
        (kept as it is, without a copy when C-contiguous) or any float (as float32).

        Without ``keyframe_times`` keyframes are every ``keyframe_period_s`` seconds;
        without ``loudness_lufs`` it is measured (BS.1770, see ``measure_loudness``;
        for int16 that makes a float copy of the audio for the measurement).
        """
        from appliance.synth.loudness import measure_loudness

        a = np.asarray(audio)
        if a.dtype != np.int16:
            a = a.astype(np.float32, copy=False)
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

    @classmethod
    def from_corpus(cls, corpus: Corpus) -> Source:
        """The Source of a loaded corpus, playing its int16 memory map in place (no copy).

        The manifest's loudness is measured on the audio as stereo (mono duplicated, as
        ``Corpus.audio_float32`` gives it). A mono corpus plays here as mono, which the
        Granulator pans at equal power, 3.01 dB (10·log10 2) below the same audio
        duplicated to stereo; its figure is lowered by as much so it plays at the level
        it was measured for.
        """
        audio = corpus.audio
        loudness = float(corpus.loudness_lufs)
        per_keyframe = corpus.keyframe_loudness_lufs
        if per_keyframe is not None:
            per_keyframe = np.array(per_keyframe, dtype=np.float64)
        if audio.ndim == 2 and audio.shape[1] == 1:
            loudness -= 10.0 * math.log10(2.0)
            if per_keyframe is not None:
                per_keyframe -= 10.0 * math.log10(2.0)
        times = np.asarray(corpus.keyframe_times, dtype=np.float64)
        return cls(audio, np.ascontiguousarray(times), loudness, per_keyframe)
