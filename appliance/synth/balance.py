"""Level balance inside a corpus: one gain per keyframe, from its measured loudness.

A corpus is normalized as a whole (``loudness.py``), but its parts differ: in the demo
``world`` corpus birdsong plays 13 dB below a waterfall, so turning the camera makes the
level jump. Each keyframe's grains are gained by a fraction of their difference from the
corpus figure: the order of loudness survives (a waterfall stays the louder), the jump
shrinks. Boosts are capped so a near-silent stretch is not lifted into hiss.
"""

from __future__ import annotations

import numpy as np

#: Largest boost (dB) for a keyframe quieter than its corpus, and largest cut.
MAX_BOOST_DB = 10.0
MAX_CUT_DB = 20.0


def balance_gains(
    keyframe_lufs: np.ndarray | None, corpus_lufs: float, balance: float, keyframes: int
) -> np.ndarray:
    """Linear gain per keyframe, float64 ``(keyframes,)``.

    ``keyframe_lufs`` is each keyframe's loudness (LUFS, measured like ``corpus_lufs``) or
    None (no figures: all gains 1). ``balance`` in 0..1 is the fraction of each
    keyframe's difference from ``corpus_lufs`` that is removed.
    """
    if keyframe_lufs is None or balance == 0.0:
        return np.ones(keyframes, dtype=np.float64)
    db = balance * (corpus_lufs - np.asarray(keyframe_lufs, dtype=np.float64))
    return 10.0 ** (np.clip(db, -MAX_CUT_DB, MAX_BOOST_DB) / 20.0)
