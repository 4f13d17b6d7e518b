"""From distances to a probability per keyframe: the one mapping the appliance uses.

For a frame at distances ``d_k`` (matching space, see features.py) from the K
keyframes, with ``u_k = span_k / duration`` (the share of the timeline that
keyframe k covers; ``u`` is the corpus' uniform-in-time distribution)::

    s_k = u_k · exp(−(d_k − d_min) / τ)  /  Σ_j u_j · exp(−(d_j − d_min) / τ)
    c   = clip((d_far − d⁰_min) / (d_far − d_near), 0, 1) · c_known   (confidence)
    p_k = (1 − ε) · (c · s_k + (1 − c) · u_k) + ε · u_k

- **Monotone**: within a frame, a smaller distance never gets a smaller
  probability per second of audio (``p_k / span_k`` falls as ``d_k`` grows;
  p_k itself also weighs the span's length).
- **Softmax over −d/τ with a time prior** ``u``: it is Bayes' rule with an
  exponential-kernel likelihood per keyframe and a prior uniform over the
  timeline, so a scene's weight does not grow with its number of photos,
  and as τ → ∞ (no information) p becomes exactly :meth:`Matcher.uniform`.
- **τ is fixed per corpus**, set at build time from the corpus' own distance
  spread (calibrate.py), not per frame: a per-frame τ would make every
  frame, even a wall, look equally sure of its nearest keyframe.
- **Confidence** ``c``: a frame whose nearest keyframe is farther than new
  photos of known places ever are (``d_near``, ``d_far``: measured once, the
  matching space being the same for every corpus; calibrate.py) is an
  unknown sight; its p relaxes towards the uniform distribution instead of
  picking a confident nearest neighbour. ``c_known`` (known.py, from the
  network's own ImageNet classes) does the same for a sight whose *kind*
  none of the corpus' pictures shows (a couch, a cup), however near its
  nearest keyframe: one factor per frame, so monotonicity holds.
- ``d⁰_min`` is the nearest distance in the fixed part of the space (without
  the corpus' own scene part, discriminant.py), where ``d_near``/``d_far``
  were measured; the matcher passes it as ``nearest``.
- **Floor** ``ε`` (1 %): no part of the corpus ever becomes impossible.

p is a probability **per keyframe** (what the synthesizer samples: a
keyframe by p, then a uniform position inside its span); p_k / span_k is the
density per second.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from appliance.errors import CorpusError

DEFAULT_FLOOR = 0.01


@dataclass(frozen=True)
class MappingParams:
    """The mapping's constants (stored in the corpus manifest under ``matching``).

    ``tau``: softmax temperature, in matching-space distance units.
    ``floor``: ε, the share of p always spread uniformly over time.
    ``d_near``, ``d_far``: nearest distances (matching-space units) at and
    below which a frame is fully trusted (``c = 1``), at and above which not
    at all (``c = 0``). ``d_far = inf`` turns the confidence off.
    ``known_lo``, ``known_hi``, ``support_gain``: the unknown-sight ramp (known.py);
    ``known_hi = 0`` turns it off.
    """

    tau: float
    floor: float = DEFAULT_FLOOR
    d_near: float = 0.0
    d_far: float = math.inf
    known_lo: float = 0.0
    known_hi: float = 0.0
    support_gain: float = 1.0

    @property
    def uses_known(self) -> bool:
        return self.known_hi > 0

    def describe(self) -> dict[str, float | None]:
        out: dict[str, float | None] = asdict(self)
        if math.isinf(self.d_far):
            out["d_far"] = None
        return out

    @classmethod
    def from_description(cls, desc: object, where: str) -> MappingParams:
        keys = {"tau", "floor", "d_near", "d_far", "known_lo", "known_hi", "support_gain"}
        if not isinstance(desc, dict) or set(desc) != keys:
            raise CorpusError(f"{where}: 'matching' must have {', '.join(sorted(keys))}")
        vals = {}
        for key, value in desc.items():
            if key == "d_far" and value is None:
                value = math.inf
            if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
                raise CorpusError(f"{where}: matching {key} must be a number")
            vals[key] = float(value)
        params = cls(**vals)
        known_ok = (params.known_hi == 0 or 0 <= params.known_lo < params.known_hi <= 1)
        if not (params.tau > 0 and 0 <= params.floor < 1 and 0 <= params.d_near < params.d_far
                and known_ok and 1 <= params.support_gain <= 100):
            raise CorpusError(f"{where}: matching constants out of range: {params}")
        return params


def kernel(distances: np.ndarray, uniform: np.ndarray, tau: float) -> np.ndarray:
    """``s_k`` (float64 (K,), sums to 1): the softmax over −d/τ with the time prior, before
    any confidence; what a frame calls up if it is trusted."""
    d = np.asarray(distances, dtype=np.float64)
    s = uniform * np.exp(-(d - float(d.min())) / tau)
    return s / s.sum()


def probabilities(distances: np.ndarray, uniform: np.ndarray, params: MappingParams,
                  known_confidence: float = 1.0, nearest: float | None = None) -> np.ndarray:
    """p per keyframe (float64, sums to 1) from distances (K,) and the time prior ``uniform``.

    ``known_confidence`` (0 … 1, known.py): how surely the frame shows a kind of
    place the corpus has pictures of; it scales the distance confidence.
    ``nearest``: the nearest distance the distance confidence reads (default: the
    smallest of ``distances``); the matcher passes it in the fixed, corpus-independent
    part of the space where ``d_near``/``d_far`` were measured (discriminant.py).
    """
    d = np.asarray(distances, dtype=np.float64)
    d_conf = float(d.min()) if nearest is None else float(nearest)
    s = kernel(d, uniform, params.tau)
    if math.isinf(params.d_far):
        c = 1.0
    else:
        c = min(1.0, max(0.0, (params.d_far - d_conf) / (params.d_far - params.d_near)))
    c *= min(1.0, max(0.0, float(known_confidence)))
    p = (1.0 - params.floor) * (c * s + (1.0 - c) * uniform) + params.floor * uniform
    p /= p.sum()
    return p
