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
