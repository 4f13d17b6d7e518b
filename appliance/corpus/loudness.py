"""The corpus loudness figure, from the synthesizer's BS.1770 meter.

Each source file is measured as it will play (float32 stereo: mono
duplicated, as :meth:`Corpus.audio_float32` gives it) and the corpus figure
is the length-weighted mean power of the files' figures. So memory stays
bounded by the longest single file, however long the corpus. (The relative
gate is applied per file rather than over the whole corpus, a difference of
a fraction of a LU for ambiences of similar level.)
"""

from __future__ import annotations

import math

import numpy as np


def _meter():
    try:
        from appliance.synth import measure_loudness  # type: ignore[attr-defined]
    except ImportError:
        from appliance.synth.loudness import measure_loudness
    return measure_loudness


def file_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """LUFS of float32 (frames, 1|2) audio measured as stereo."""
    stereo = audio if audio.shape[1] == 2 else np.repeat(audio, 2, axis=1)
    return float(_meter()(np.ascontiguousarray(stereo, dtype=np.float32), sample_rate))


def combine(figures: list[tuple[float, int]]) -> float:
    """Length-weighted mean power of (LUFS, frames) pairs, in LUFS."""
    total = sum(n for _, n in figures)
    power = sum(n * 10.0 ** ((lufs + 0.691) / 10.0) for lufs, n in figures) / max(total, 1)
    return -0.691 + 10.0 * math.log10(power) if power > 0 else -70.0


#: Shortest stretch (s) measured around a keyframe: BS.1770 gates 400 ms blocks, and a
#: one-second video keyframe alone would follow single sounds, not the place.
KEYFRAME_WINDOW_S = 3.0


def keyframe_loudness(
    pcm: np.ndarray, keyframe_times: np.ndarray, sample_rate: int
) -> np.ndarray:
    """LUFS around each keyframe's span of int16 ``pcm`` (frames, 1|2), float64 ``(K,)``.

    Span k is ``[t_k, t_{k+1})`` (the last runs to the end), widened symmetrically to at
    least :data:`KEYFRAME_WINDOW_S` inside the audio; each is measured as stereo like
    :func:`file_loudness`, one span at a time (memory bounded by the longest span).
    """
    frames = pcm.shape[0]
    starts = np.round(np.asarray(keyframe_times) * sample_rate).astype(np.int64)
    ends = np.append(starts[1:], frames)
    need = round(KEYFRAME_WINDOW_S * sample_rate)
    out = np.empty(len(starts), dtype=np.float64)
    for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
        grow = max(0, need - (b - a))
        a = max(0, a - grow // 2)
        b = min(frames, max(b + grow - grow // 2, a + need))
        a = max(0, min(a, b - need))
        span = pcm[a:b].astype(np.float32) * np.float32(1.0 / 32767.0)
        out[k] = file_loudness(span, sample_rate)
    return out
