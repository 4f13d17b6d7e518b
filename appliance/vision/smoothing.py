"""How p follows the camera: taken at once on a change, averaged while the view is still.

Two smoothings act on p, each for its own reason:

* The synthesizer's (``GrainParams.p_smoothing_s``, ``[synth] p_smoothing_s``): a one-pole
  filter per audio block towards the latest p, so a new p never steps the sound. It
  sets how quickly the grains follow a change of view: after a change is embedded the
  mass on the new scene reaches 90 % of the way in ``ln 10 × τ`` (2.3 τ). The whole
  reaction (:func:`reaction_estimate_s`) is the wait for the next frame, one embedding,
  that, and the tail of the grains already sounding. At the default 4 frames/s with an
  embedding of 12 ms (here) it stays within 0.8 s for τ ≤ 0.21 s (τ = 0.2 s: 0.76 s;
  today's 0.5 s: 1.45 s); on a Pi 4 (200 ms an embedding) τ ≤ 0.13 s.
* :class:`PSmoother` here, per embedded frame: with vision that rests
  (:mod:`appliance.vision.change`), an unchanged view is embedded only at each refresh,
  and all a refresh can bring is the view's sensor noise, or a drift too slow for the
  change measure. Each refresh moves p ``1 − exp(−Δt/τ)`` of the way to the new
  estimate (``[vision] still_smoothing_s``; with the default 12 s refresh and τ = 10 s,
  70 %), so noise is averaged out over refreshes and a slow drift is still followed.
  Any other embedding (first frame, a change, a view still moving) is taken as it is:
  the quick answer is never slowed here.
"""

from __future__ import annotations

import math

import numpy as np

from appliance.vision.change import Decision

#: Share of the way to the new scene the reaction is measured at.
REACTION_SHARE = 0.9


def reaction_estimate_s(
    p_smoothing_s: float,
    vision_fps: float,
    embed_s: float,
    grain_s: float = 0.075,
    share: float = REACTION_SHARE,
) -> float:
    """Worst-case seconds from a change of view to ``share`` of the grains' mass moving to
    the new scene, with one embedding: a frame period of waiting (1 / ``vision_fps``),
    the embedding and match (``embed_s``), the synthesizer's smoothing
    (``−ln(1 − share) × p_smoothing_s``) and half a mean grain (``grain_s``, s) of
    grains already sounding. Assumes the new p puts its mass on the new scene."""
    smoothing = -math.log(1.0 - share) * p_smoothing_s
    return 1.0 / vision_fps + embed_s + smoothing + 0.5 * grain_s


def longest_smoothing_s(
    reaction_s: float, vision_fps: float, embed_s: float, grain_s: float = 0.075,
    share: float = REACTION_SHARE,
) -> float:
    """The largest ``p_smoothing_s`` for which :func:`reaction_estimate_s` is at most
    ``reaction_s`` (0 when even no smoothing is too slow)."""
    rest = reaction_s - 1.0 / vision_fps - embed_s - 0.5 * grain_s
    return max(0.0, rest / -math.log(1.0 - share))


class PSmoother:
    """p per embedded frame; see the module docstring. ``still_smoothing_s`` is the time
    constant (s) applied on refreshes of an unchanged view (0 = none)."""

    def __init__(self, still_smoothing_s: float = 10.0) -> None:
        if not still_smoothing_s >= 0.0:
            raise ValueError(f"still_smoothing_s must be >= 0, not {still_smoothing_s!r}")
        self.still_smoothing_s = float(still_smoothing_s)
        self._p: np.ndarray | None = None
        self._at = 0.0

    def reset(self) -> None:
        """Forget p (a new corpus: its p has another length and meaning)."""
        self._p = None

    def update(self, p: np.ndarray, decision: Decision, now_s: float) -> np.ndarray:
        """The p to publish for a frame embedded at ``now_s`` (seconds) for ``decision``;
        ``p`` sums to 1, and so does the result (a new array)."""
        q = np.asarray(p, dtype=np.float64)
        previous = self._p
        if (
            decision is Decision.REFRESH
            and previous is not None
            and previous.shape == q.shape
            and self.still_smoothing_s > 0.0
        ):
            a = 1.0 - math.exp(-max(0.0, now_s - self._at) / self.still_smoothing_s)
            q = previous + a * (q - previous)
        q = q / q.sum()
        self._p, self._at = q, now_s
        return q.copy()
