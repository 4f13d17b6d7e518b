"""Master section: ramped volume, overlay mix, soft limiter, output format conversion.

The limiter has no look-ahead (no latency): a gain computer pulls steady peaks down to a
threshold 2 dB under the ceiling with a smooth one-pole gain (1 ms attack, 150 ms
release, so the gain never steps: no click), and a tanh soft clip between threshold and
ceiling catches what gets through during the attack. tanh < 1, so no sample ever
exceeds the ceiling. When the volume is steady, the gain idle and the block's peak below
the threshold, the block is just scaled and written (the common case, vectorized).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from appliance.synth.layout import (
    F_LIM_ATTACK,
    F_LIM_CEILING,
    F_LIM_GAIN,
    F_LIM_RELEASE,
    F_LIM_THRESHOLD,
    F_VOL,
    F_VOL_STEP,
    F_VOL_TARGET,
    OUT_F32,
    OUT_S16,
)

THRESHOLD_BELOW_CEILING_DB = 2.0
ATTACK_S = 0.001
RELEASE_S = 0.150
# Within 1e-6 of unity the gain snaps to 1 (−0.00001 dB) so the fast path can resume.
_IDLE = 1.0 - 1e-6


@njit(nogil=True)
def soft_clip(y, knee, ceiling):
    """Identity below ``knee``; above it tanh-saturates towards (never reaching) ``ceiling``."""
    a = abs(y)
    if a <= knee:
        return y
    width = ceiling - knee
    c = knee + width * math.tanh((a - knee) / width)  # slope 1 at the knee: no kink
    return c if y > 0.0 else -c


@njit(nogil=True, inline="always")
def _write(mode, out_f, out_s16, out_s32, i, yl, yr):
    if mode == OUT_F32:
        out_f[i, 0] = yl
        out_f[i, 1] = yr
    elif mode == OUT_S16:  # |y| < 1 once limited (the fast path may overshoot, then rewrites)
        out_s16[2 * i] = np.int16(math.floor(yl * 32767.0 + 0.5))
        out_s16[2 * i + 1] = np.int16(math.floor(yr * 32767.0 + 0.5))
    else:
        out_s32[2 * i] = np.int32(math.floor(yl * 2147483647.0 + 0.5))
        out_s32[2 * i + 1] = np.int32(math.floor(yr * 2147483647.0 + 0.5))


@njit(nogil=True)
def _write_if_below(left, right, overlay, with_overlay, v, threshold, out_f, out_s16, out_s32,
                    mode):
    """Fast path: write ``v``·bus (+ overlay) in one pass while tracking the peak; return
    whether it stayed under ``threshold``. If not, the caller rewrites the whole block."""
    peak = np.float32(0.0)
    for i in range(left.shape[0]):
        yl = left[i] * v
        yr = right[i] * v
        if with_overlay:
            yl += overlay[i, 0]
            yr += overlay[i, 1]
        peak = max(peak, abs(yl), abs(yr))
        _write(mode, out_f, out_s16, out_s32, i, float(yl), float(yr))
    return peak <= threshold


@njit(nogil=True)
def finish_block(bus, overlay, fstate, out_f, out_s16, out_s32, mode):
    """Apply volume, add ``overlay`` (if it has the block's length), limit, and write one
    block of ``bus`` rows 0/1 (left/right) in the output format ``mode``."""
    block = bus.shape[1]
    left = bus[0]
    right = bus[1]
    with_overlay = overlay.shape[0] == block
    target = min(max(fstate[F_VOL_TARGET], 0.0), 1.0)
    vol = fstate[F_VOL]
    gain = fstate[F_LIM_GAIN]
    threshold = fstate[F_LIM_THRESHOLD]
    if vol == target and gain == 1.0 and _write_if_below(
        left, right, overlay, with_overlay, np.float32(vol), threshold, out_f, out_s16,
        out_s32, mode
    ):
        return
    step = fstate[F_VOL_STEP]
    ceiling = fstate[F_LIM_CEILING]
    attack = fstate[F_LIM_ATTACK]
    release = fstate[F_LIM_RELEASE]
    for i in range(block):
        vol += min(step, max(-step, target - vol))  # slew: no zipper noise
        yl = left[i] * vol
        yr = right[i] * vol
        if with_overlay:
            yl += overlay[i, 0]
            yr += overlay[i, 1]
        peak = max(abs(yl), abs(yr))
        wanted = threshold / peak if peak > threshold else 1.0
        gain += (attack if wanted < gain else release) * (wanted - gain)
        yl = soft_clip(yl * gain, threshold, ceiling)
        yr = soft_clip(yr * gain, threshold, ceiling)
        _write(mode, out_f, out_s16, out_s32, i, yl, yr)
    fstate[F_VOL] = vol
    fstate[F_LIM_GAIN] = 1.0 if gain > _IDLE else gain
