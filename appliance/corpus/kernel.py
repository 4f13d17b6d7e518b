"""Numba kernels for large corpora: int8 rows · float32 query, without a float copy.

For 36,000 keyframes × 2048 the rows are 74 MB of int8. The kernel reads
each byte once and converts it in registers (AVX2 on x86, NEON on the Pi):
one pass takes about as long as NumPy needs just to sum those bytes (~5 ms
on one x86 core here). It runs on **one thread** on purpose: measured on
this 2-core machine under load, a ``prange`` version was slower (median
16 ms against 9 ms: it waits for its slowest thread), and on the appliance
the other core belongs to the camera, TFLite and the audio callback.
Compiled on first use and cached (``NUMBA_CACHE_DIR``).
"""

from __future__ import annotations

import numpy as np

_KERNELS: dict[str, object] = {}


def _compile() -> None:
    from numba import njit

    @njit(fastmath=True, cache=True, nogil=True)
    def int8_dot(q, x, out):  # pragma: no cover - compiled
        k_count, dim = q.shape
        for k in range(k_count):
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

    _KERNELS["dot"] = int8_dot
    _KERNELS["sqnorm"] = int8_sqnorm


def int8_dot(q: np.ndarray, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``q @ x`` for int8 q (K, D) and float32 x (D,), as float32 (K,)."""
    if not _KERNELS:
        _compile()
    if out is None:
        out = np.empty(q.shape[0], dtype=np.float32)
    _KERNELS["dot"](q, np.ascontiguousarray(x, dtype=np.float32), out)
    return out


def int8_sqnorm(q: np.ndarray) -> np.ndarray:
    """Σ_j q[k, j]² for int8 q (K, D), as int64 (K,)."""
    if not _KERNELS:
        _compile()
    out = np.empty(q.shape[0], dtype=np.int64)
    _KERNELS["sqnorm"](q, out)
    return out
