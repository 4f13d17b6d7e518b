"""The class part of the matching space: what the network says a picture *is*.

A keyframe's vector in the matching space is its visual part (features.py:
the pooled embedding, square-rooted, unit length) followed by a class part:
``w · √P``, the square root of its ImageNet class posterior (vision/classes.py)
weighted by ``w`` (``FeatureSpace.classes``). Distances stay euclidean in
that joint space::

    d² = |v_frame − v_k|² + w² · |√P_frame − √P_k|²
       = d_visual² + w² · (2 − 2 · Σ_c √(P_frame(c) · P_k(c)))

The second term is the squared Hellinger distance between the two
posteriors: two pictures the network reads as the same kind of thing (a
cascade and a spillway, two different dogs) come nearer, whatever their
colours and framing. Measured on the development set (corpora/README.md).

Storage: each keyframe keeps only its ``CLASS_TOP`` most probable classes,
renormalised (``class_index.npy`` int16 and ``class_sqrt.npy`` uint8, the
square roots × 255, (K, CLASS_TOP)): 96 bytes a keyframe, 3.5 MB for 36,000
keyframes. The frame's posterior is kept whole. Large corpora sum with a
Numba kernel (kernel.py), small ones with NumPy.
"""

from __future__ import annotations

import numpy as np

from appliance.vision.classes import ClassHead

#: Weight w of the class part (measured: corpora/README.md).
CLASS_WEIGHT = 0.5
#: Classes kept per keyframe.
CLASS_TOP = 32
_CHUNK = 1024


def keyframe_classes(head: ClassHead, pooled: np.ndarray,
                     top: int = CLASS_TOP) -> tuple[np.ndarray, np.ndarray]:
    """For raw pooled vectors (K, 2048): the ``top`` classes of each (int16 (K, top)) and the
    square roots of their renormalised posteriors × 255 (uint8 (K, top))."""
    idx = np.empty((len(pooled), top), dtype=np.int16)
    sq = np.empty((len(pooled), top), dtype=np.uint8)
    for start in range(0, len(pooled), 256):
        post = head.posterior(pooled[start : start + 256])
        best = np.argsort(-post, axis=1)[:, :top]
        kept = np.take_along_axis(post, best, axis=1)
        kept /= kept.sum(axis=1, keepdims=True)
        idx[start : start + len(post)] = best
        sq[start : start + len(post)] = np.rint(np.sqrt(kept) * 255.0)
    return idx, sq


#: Above this many keyframes the sum runs in the Numba kernel.
KERNEL_MIN = 4096


def squared_distances(frame_sqrt: np.ndarray, idx: np.ndarray, sq: np.ndarray) -> np.ndarray:
    """``|√P_frame − √P_k|²`` (float64 (K,)) for one frame's √posterior (1000,) against the
    stored keyframe parts (int16 ``idx``, uint8 ``sq``)."""
    frame_sqrt = np.asarray(frame_sqrt, dtype=np.float32)
    if len(idx) > KERNEL_MIN:
        from appliance.corpus.kernel import class_overlap

        overlap = class_overlap(idx, sq, frame_sqrt).astype(np.float64)
    else:
        overlap = np.einsum("kj,kj->k", sq.astype(np.float32), frame_sqrt[idx],
                            dtype=np.float64) / 255.0
    return np.maximum(2.0 - 2.0 * overlap, 0.0)


def pairwise_squared(probe_idx: np.ndarray, probe_sq: np.ndarray, idx: np.ndarray,
                     sq: np.ndarray) -> np.ndarray:
    """``|√P_i − √P_k|²`` (float64 (n, K)) between stored parts (for calibration), in chunks
    of keyframes so that memory stays bounded for long video corpora."""
    n = len(probe_idx)
    dense = np.zeros((n, 1000), dtype=np.float32)
    np.put_along_axis(dense, probe_idx.astype(np.int64),
                      probe_sq.astype(np.float32) / 255.0, axis=1)
    out = np.empty((n, len(idx)), dtype=np.float64)
    sq32 = sq.astype(np.float32) / 255.0
    for start in range(0, len(idx), _CHUNK):
        part_idx = idx[start : start + _CHUNK]
        part = np.einsum("kj,nkj->nk", sq32[start : start + _CHUNK], dense[:, part_idx])
        out[:, start : start + len(part_idx)] = np.maximum(2.0 - 2.0 * part, 0.0)
    return out
