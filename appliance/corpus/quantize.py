"""Keyframe embeddings stored as int8 with one float32 scale per row.

Row ``k`` is ``q[k] * scale[k]`` with ``q`` in [-127, 127] (symmetric, no zero
point). At 2048 dimensions that is 2 KiB per keyframe: a 10-hour corpus at one
keyframe per second (36,000 rows) takes 74 MB, under the 80 MB budget, where
float16 would take 147 MB. The rounding error per component is at most half a
step (``scale / 254`` of the row's largest magnitude), which moves distances by
well under a percent (measured in ``scripts/measure_matching.py``).
"""

from __future__ import annotations

import numpy as np


def quantize_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float (K, D) → (int8 (K, D), float32 scales (K,)); an all-zero row gets scale 1."""
    x = np.asarray(x, dtype=np.float32)
    peak = np.max(np.abs(x), axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(x / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale


def dequantize_rows(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """int8 (K, D) and scales (K,) → float32 (K, D)."""
    return q.astype(np.float32) * scale[:, None].astype(np.float32)
