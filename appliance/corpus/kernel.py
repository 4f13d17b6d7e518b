"""Numba kernels for large corpora: int8 rows · float32 query, without a float copy.

For 36,000 keyframes × 2048 the rows are 74 MB of int8. The kernel reads each
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

    @njit(fastmath=True, cache=True, nogil=True, parallel=True)
    def int8_dot(q, x, out):  # pragma: no cover - compiled
        k_count, dim = q.shape
        for k in prange(k_count):
            acc = np.float32(0.0)
            row = q[k]
            for j in range(dim):
                acc += np.float32(row[j]) * x[j]
            out[k] = acc

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

    @njit(fastmath=True, cache=True, nogil=True, parallel=True)
    def class_overlap(idx, sq, frame_sqrt, out):  # pragma: no cover - compiled
        k_count, top = idx.shape
        for k in prange(k_count):
            acc = np.float32(0.0)
            for j in range(top):
                acc += np.float32(sq[k, j]) * frame_sqrt[idx[k, j]]
            out[k] = acc * np.float32(1.0 / 255.0)

    _KERNELS["dot"] = int8_dot
    _KERNELS["sqnorm"] = int8_sqnorm
    _KERNELS["overlap"] = class_overlap


def int8_dot(q: np.ndarray, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``q @ x`` for int8 q (K, D) and float32 x (D,), as float32 (K,)."""
    if not _KERNELS:
        _compile()
    if out is None:
        out = np.empty(q.shape[0], dtype=np.float32)
    _run_parallel("dot", q, np.ascontiguousarray(x, dtype=np.float32), out)
    return out


def _run_parallel(name: str, *args: np.ndarray) -> None:
    """Run a parallel kernel on MATCH_THREADS threads, one call at a time (the lock)."""
    from numba import config, set_num_threads

    with _LOCK:
        set_num_threads(max(1, min(MATCH_THREADS, config.NUMBA_NUM_THREADS)))  # per thread
        _KERNELS[name](*args)


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
