"""K-weighting filter (ITU-R BS.1770-4) and per-hop mean-square power, in Numba.

Offline (corpus building, tests), never in the audio thread; it allocates its result.
"""

from __future__ import annotations

import math

import numpy as np
from numba import float32, float64, int64, njit


def k_weighting_coefficients(sample_rate: int) -> np.ndarray:
    """Biquad coefficients ``(2, 5)`` = [b0, b1, b2, a1, a2] of the two K-weighting stages.

    Stage 0 is the high shelf (+4 dB above ~1.5 kHz, the head's acoustic effect), stage 1
    the RLB high-pass (~38 Hz). Designed by bilinear transform from the analog
    prototypes libebur128 uses, so any rate works; at 48 kHz they equal BS.1770's table.
    """
    fs = float(sample_rate)
    # High shelf.
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / fs)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [
        (vh + vb * k / q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / q + k * k) / a0,
    ]
    # High pass (numerator 1, -2, 1: unity gain at Nyquist as in the standard).
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / fs)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass], dtype=np.float64)


@njit(float64[:, ::1](float32[:, ::1], float64[:, ::1], int64), cache=True, nogil=True)
def hop_power(audio, coefs, hop):
    """Mean square of the K-weighted signal per channel over consecutive ``hop``-sample hops.

    Returns ``(hops, channels)``; a trailing partial hop is dropped (BS.1770 blocks
    are whole). Filter states run in float64 (direct form II transposed).
    """
    frames, channels = audio.shape
    hops = frames // hop
    out = np.zeros((hops, channels), dtype=np.float64)
    for c in range(channels):
        s1a = 0.0
        s2a = 0.0
        s1b = 0.0
        s2b = 0.0
        for h in range(hops):
            acc = 0.0
            for i in range(h * hop, (h + 1) * hop):
                x = float64(audio[i, c])
                y = coefs[0, 0] * x + s1a
                s1a = coefs[0, 1] * x - coefs[0, 3] * y + s2a
                s2a = coefs[0, 2] * x - coefs[0, 4] * y
                z = coefs[1, 0] * y + s1b
                s1b = coefs[1, 1] * y - coefs[1, 3] * z + s2b
                s2b = coefs[1, 2] * y - coefs[1, 4] * z
                acc += z * z
            out[h, c] = acc / hop
    return out
