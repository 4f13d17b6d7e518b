"""Where grains start: p smoothed in time, then inverse-CDF sampling over the keyframes."""

from __future__ import annotations

from numba import njit

from appliance.synth.layout import (
    KF_CDF,
    KF_PAN,
    KF_PAN_TARGET,
    KF_SMOOTH,
    KF_START,
    KF_TARGET,
)

# Smoothed p snaps to the target once no entry differs by more than this: the CDF
# then stops being recomputed every block.
_CONVERGED = 1e-7


@njit(nogil=True)
def smooth_p(kf, alpha):
    """One block of one-pole smoothing of ``kf[KF_SMOOTH]`` towards ``kf[KF_TARGET]``
    (and of the pan centres ``kf[KF_PAN]`` towards ``kf[KF_PAN_TARGET]``, so a sound
    glides to its new place); renormalize and rebuild the CDF in place. Returns True
    once converged."""
    k_count = kf.shape[1]
    total = 0.0
    worst = 0.0
    for k in range(k_count):
        target = kf[KF_TARGET, k]
        p = kf[KF_SMOOTH, k]
        p += alpha * (target - p)
        kf[KF_SMOOTH, k] = p
        total += p
        worst = max(worst, abs(target - p))
        pan = kf[KF_PAN, k]
        pan += alpha * (kf[KF_PAN_TARGET, k] - pan)
        kf[KF_PAN, k] = pan
        worst = max(worst, abs(kf[KF_PAN_TARGET, k] - pan))
    converged = worst < _CONVERGED
    acc = 0.0
    for k in range(k_count):
        # Both ends are normalized, so total stays ≈ 1; dividing removes drift.
        p = kf[KF_TARGET, k] if converged else kf[KF_SMOOTH, k] / total
        kf[KF_SMOOTH, k] = p
        acc += p
        kf[KF_CDF, k] = acc
        if converged:
            kf[KF_PAN, k] = kf[KF_PAN_TARGET, k]
    return converged


@njit(nogil=True)
def draw_start(kf, frames, need, u_span, u_pos):
    """Source frame where a grain reading ``need`` frames starts, and its keyframe.

    Keyframe span chosen by p (binary search of the CDF for ``u_span`` in [0, 1)), then
    a uniform position inside it (``u_pos``), clamped so the grain fits in the source.
    Returns ``(start frame, keyframe index)``.
    """
    k_count = kf.shape[1]
    target = u_span * kf[KF_CDF, k_count - 1]  # scaled, so a zero-p tail is never chosen
    lo = 0
    hi = k_count - 1
    while lo < hi:  # first k with cdf[k] > target
        mid = (lo + hi) >> 1
        if kf[KF_CDF, mid] > target:
            hi = mid
        else:
            lo = mid + 1
    start = kf[KF_START, lo]
    end = kf[KF_START, lo + 1] if lo + 1 < k_count else float(frames)
    pos = int(start + u_pos * (end - start))
    return max(0, min(pos, frames - need)), lo
