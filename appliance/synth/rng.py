"""Deterministic random numbers for the kernels: xorshift64* in one int64 array cell.

No np.random in the audio path: its state is global and its calls may allocate.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_MASK64 = (1 << 64) - 1


def seed_state(seed: int) -> int:
    """Mix ``seed`` with splitmix64 into a non-zero xorshift state, as a signed int64."""
    z = (int(seed) + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    z ^= z >> 31
    z = z or 0x9E3779B97F4A7C15  # xorshift must not start at 0
    return z - (1 << 64) if z >= 1 << 63 else z


@njit(nogil=True)
def uniform(istate, index):
    """Next float64 in [0, 1) from the xorshift64* state at ``istate[index]``."""
    x = np.uint64(istate[index])
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    istate[index] = np.int64(x)
    # The multiply scrambles the low bits; the top 53 bits make the double.
    return float((x * np.uint64(0x2545F4914F6CDD1D)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
