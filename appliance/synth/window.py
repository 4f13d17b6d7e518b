"""Grain window: a Tukey window, raised-cosine taper at each end, flat in between.

The taper is evaluated as a polynomial rather than read from a table so the mixing
loops stay branch- and gather-free and LLVM vectorizes them (8 float32 lanes on AVX2).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_HALF = np.float32(0.5)
# sin(πu) on u ∈ [-½, ½] as u·(c0 + c1u² + c2u⁴ + c3u⁶): a minimax fit of sin(t) on
# [-π/2, π/2] (max error 6e-7, −124 dB, about float32 resolution) with π folded in. It
# ends just below 1 at u = ±½, so the window stays within [0, 1].
_C0 = np.float32(9.99996619e-01 * math.pi)
_C1 = np.float32(-1.66648296e-01 * math.pi**3)
_C2 = np.float32(8.30633676e-03 * math.pi**5)
_C3 = np.float32(-1.83639571e-04 * math.pi**7)


@njit(nogil=True, inline="always")
def rise(x):
    """Raised-cosine rise 0.5 − 0.5·cos(πx) for x in [0, 1], float32."""
    u = x - _HALF  # 0.5 − 0.5·cos(πx) = 0.5 + 0.5·sin(π(x − ½))
    u2 = u * u
    return _HALF + _HALF * (u * (_C0 + u2 * (_C1 + u2 * (_C2 + u2 * _C3))))


@njit(nogil=True, inline="always")
def tukey(age, length, taper):
    """Window value at output sample ``age`` of a grain of ``length`` samples with
    ``taper`` samples of raised cosine at each end (float32; for the per-sample path)."""
    if age < taper:
        return rise((np.float32(age) + _HALF) / np.float32(taper))
    if age >= length - taper:
        return rise((np.float32(length - age) - _HALF) / np.float32(taper))
    return np.float32(1.0)
