"""Numba kernels for large corpora: distances from int8 rows, without a float copy.

For 36,000 keyframes × 2048 the rows are 74 MB of int8. The distance kernel
(``joint_squared``) reads each
byte once and converts it in registers (AVX2 on x86, NEON on the Pi). It runs
on **two threads** (``MATCH_THREADS``): measured on this 2-core VM, one thread
took 8.3–9.4 ms median and two 2.6–3.3 ms (p95 under 4.7 ms), results
identical; one core alone cannot keep enough loads in flight. A session before
measured the opposite while *other processes* loaded both cores (a parallel
loop waits for its slowest thread); on the appliance the match runs on the
vision thread between two inferences, when TFLite's threads are idle, and the
audio thread (SCHED_FIFO, microseconds per block) preempts either. Calls are
serialized by a lock: Numba's default threading layer must not be entered
from two threads at once. Compiled on first use and cached (``NUMBA_CACHE_DIR``).
"""

from __future__ import annotations

import threading

import numpy as np

#: Threads for one match (at most the machine's; the audio thread keeps its own core).
MATCH_THREADS = 2
_KERNELS: dict[str, object] = {}
_LOCK = threading.Lock()


def _compile() -> None:
    from numba import njit, prange

    @njit(cache=True, nogil=True)
    def int8_sqnorm(q, out):  # pragma: no cover - compiled
        k_count, dim = q.shape
        for k in range(k_count):
            acc = np.int64(0)
            row = q[k]
            for j in range(dim):
                v = np.int64(row[j])
                acc += v * v
            out[k] = acc

    @njit(fastmath=True, cache=True, nogil=True, inline="always")
    def overlap(idx, sq, frame_sqrt, k):  # pragma: no cover - compiled
        # Σ_j √P_k(c_j) · √P_frame(c_j) for keyframe k's stored part (×255 undone).
        acc = np.float32(0.0)
        for j in range(idx.shape[1]):
            acc += np.float32(sq[k, j]) * frame_sqrt[idx[k, j]]
        return acc * np.float32(1.0 / 255.0)

    @njit(fastmath=True, cache=True, nogil=True, parallel=True)
    def class_overlap(idx, sq, frame_sqrt, out):  # pragma: no cover - compiled
        for k in prange(idx.shape[0]):
            out[k] = overlap(idx, sq, frame_sqrt, k)

    @njit(fastmath=True, cache=True, nogil=True, parallel=True)
    def joint_squared(q, scales, sqnorm, x, xx, cidx, csq, fc, wc2, gidx, gsq, fg, wg2,
                      out):  # pragma: no cover - compiled
        # One pass per row: the int8 dot and both stored class parts while the row's
        # bytes are in cache, instead of three passes over K and five K-long temporaries.
        k_count, dim = q.shape
        for k in prange(k_count):
            acc = np.float32(0.0)
            row = q[k]
            for j in range(dim):
                acc += np.float32(row[j]) * x[j]
            visual = xx + sqnorm[k] - 2.0 * scales[k] * acc
            c = overlap(cidx, csq, fc, k)
            g = overlap(gidx, gsq, fg, k)
            out[k] = (max(visual, 0.0) + wc2 * max(2.0 - 2.0 * c, 0.0)
                      + wg2 * max(2.0 - 2.0 * g, 0.0))

    _KERNELS["joint"] = joint_squared
    _KERNELS["sqnorm"] = int8_sqnorm
    _KERNELS["overlap"] = class_overlap


def _run_parallel(name: str, *args: np.ndarray) -> None:
    """Run a parallel kernel on MATCH_THREADS threads, one call at a time (the lock)."""
    from numba import config, set_num_threads

    with _LOCK:
        set_num_threads(max(1, min(MATCH_THREADS, config.NUMBA_NUM_THREADS)))  # per thread
        _KERNELS[name](*args)


#: A stored class or kind part for :func:`joint_squared`: (index int16 (K, T), √mass × 255
#: uint8 (K, T), the frame's √posterior or √kinds float32, weight).
Part = tuple[np.ndarray, np.ndarray, np.ndarray, float]


def _no_part(k: int) -> Part:
    """A zero-width part (weight 0) for a space without a class or kind part."""
    return np.empty((k, 0), np.int16), np.empty((k, 0), np.uint8), np.zeros(1, np.float32), 0.0


def joint_squared(q: np.ndarray, scales: np.ndarray, sqnorm: np.ndarray, x: np.ndarray,
                  classes: Part | None, kinds: Part | None, out: np.ndarray) -> np.ndarray:
    """Squared distances (float64 (K,), into ``out``) in the fixed parts of the matching
    space, in one pass over the rows: ``|x − s_k q_k|²`` (int8 ``q`` (K, D), its row
    ``scales`` and squared norms ``sqnorm`` (float64, of the scaled rows), float32 ``x``
    (D,)) plus ``w² · |√P_frame − √P_k|²`` for the class and the kind part (classpart.py),
    each clipped at 0 as the parts are when summed one by one."""
    if not _KERNELS:
        _compile()
    x = np.ascontiguousarray(x, dtype=np.float32)
    cidx, csq, fc, wc = classes or _no_part(q.shape[0])
    gidx, gsq, fg, wg = kinds or _no_part(q.shape[0])
    _run_parallel("joint", q, scales, sqnorm, x, float(x.astype(np.float64) @ x), cidx, csq,
                  np.ascontiguousarray(fc, dtype=np.float32), float(wc) ** 2, gidx, gsq,
                  np.ascontiguousarray(fg, dtype=np.float32), float(wg) ** 2, out)
    return out


def int8_sqnorm(q: np.ndarray) -> np.ndarray:
    """Σ_j q[k, j]² for int8 q (K, D), as int64 (K,)."""
    if not _KERNELS:
        _compile()
    out = np.empty(q.shape[0], dtype=np.int64)
    _KERNELS["sqnorm"](q, out)
    return out


def class_overlap(idx: np.ndarray, sq: np.ndarray, frame_sqrt: np.ndarray,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Σ_j sq[k, j] / 255 · frame_sqrt[idx[k, j]] for int16 idx and uint8 sq (K, T), as
    float32 (K,): the Bhattacharyya overlap of each keyframe's stored class part with a
    frame's √posterior (classpart.py)."""
    if not _KERNELS:
        _compile()
    if out is None:
        out = np.empty(idx.shape[0], dtype=np.float32)
    _run_parallel("overlap", idx, sq, np.ascontiguousarray(frame_sqrt, dtype=np.float32), out)
    return out
