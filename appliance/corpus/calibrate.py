"""The constants of the probability mapping (mapping.py), and how they were measured.

The matching space is fixed (features.py: no per-corpus centring), so a
distance means the same in every corpus, and the mapping's constants are
mostly global, measured once on the ``world`` corpus with
``scripts/measure_matching.py`` (figures in ``corpora/README.md``):

- ``D_NEAR`` / ``D_FAR``: the 75th / 95th percentiles of the distance from a
  held-out photo to its nearest *other* photo in ``world``. A frame nearer
  than ``D_NEAR`` is a known kind of place (confidence 1); one farther than
  ``D_FAR`` is farther than almost any new photo of a known place ever was,
  an unknown sight (confidence 0, p relaxes to the uniform distribution).
  Per-corpus percentiles were tried and are too noisy for 5-photo corpora
  (and meaningless for video, whose neighbouring frames are near-copies).
- ``tau``: ``TAU_FRACTION`` × the median, over probe keyframes, of (median
  distance − nearest distance to another photo): the corpus' own distance
  spread. Computed per corpus when it has at least ``MIN_PROBES`` photos (or
  ``VIDEO_EXCLUDE_S`` stretches of video) to probe with, else ``DEFAULT_TAU``
  (the ``world`` figure).

These constants belong to the model (ResNet50 int8, ``features.py``'s
space); a different model needs them measured again.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from appliance.corpus import classpart, known
from appliance.corpus.mapping import DEFAULT_FLOOR, MappingParams

TAU_FRACTION = 0.1
DEFAULT_TAU = 0.021
D_NEAR = 0.86
D_FAR = 0.95
#: The same percentiles in the joint space (visual part + class part at
#: classpart.CLASS_WEIGHT, CLASS_TOP classes + kind part at KIND_WEIGHT), measured on
#: ``world`` (74 photos; 1.00 and 1.135 without the kind part). On today's ``world`` (159
#: photos) they lie near its 85th / 98th percentiles (1.015, 1.183); its 75th / 95th
#: (0.94, 1.13) cost known views (corpora/README.md, "Thirteenth round").
D_NEAR_JOINT = 1.02
D_FAR_JOINT = 1.21
MIN_PROBES = 16
SAMPLE = 512
#: One stored part of a corpus' matching space (classpart.py): (index int16 (K, T),
#: √mass × 255 uint8 (K, T), weight): the class part, the kind part.
ClassPart = tuple[np.ndarray, np.ndarray, float]
#: Video keyframes closer than this (s) count as views of one moment, not as other places.
VIDEO_EXCLUDE_S = 10.0


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) squared euclidean distances between rows of a (n, D) and b (m, D), float64."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d2, 0.0)


def nearest_other(vectors: np.ndarray, groups: np.ndarray, originals: np.ndarray,
                  classes: Sequence[ClassPart] = ()) -> tuple[np.ndarray, np.ndarray]:
    """For up to ``SAMPLE`` probe keyframes (``originals``), the distance to the nearest
    keyframe of another group, and the spread (median distance − that nearest).

    ``groups`` (K,) int: keyframes in one group are views of one photo (or one
    moment of video) and never stand in for one another. ``classes``: the
    keyframes' stored parts (the class part and the kind part: index, √mass,
    weight; classpart.py), added to the distances as the matcher does.
    """
    probes = np.flatnonzero(originals)
    if len(probes) > SAMPLE:
        probes = probes[np.linspace(0, len(probes) - 1, SAMPLE).round().astype(int)]
    d2 = squared_distances(vectors[probes], vectors)
    for idx, sq, weight in classes:
        d2 += weight**2 * classpart.pairwise_squared(idx[probes], sq[probes], idx, sq)
    d = np.sqrt(d2)
    d[groups[probes][:, None] == groups[None, :]] = np.nan
    d = d[~np.all(np.isnan(d), axis=1)]
    if len(d) == 0:
        return np.empty(0), np.empty(0)
    nearest = np.nanmin(d, axis=1)
    return nearest, np.nanmedian(d, axis=1) - nearest


def calibrate(vectors: np.ndarray, groups: np.ndarray, originals: np.ndarray,
              floor: float = DEFAULT_FLOOR, tau_fraction: float = TAU_FRACTION,
              confidence: bool = True, d_near: float | None = None,
              d_far: float | None = None,
              classes: Sequence[ClassPart] = (),
              known_ramp: tuple[float, float] = (known.KNOWN_LO, known.KNOWN_HI)
              ) -> MappingParams:
    """MappingParams for a corpus' keyframe ``vectors`` (K, D) in the matching space (and
    their class part, when the space has one); ``known_ramp``: the unknown-sight ramp."""
    if d_near is None or d_far is None:
        d_near, d_far = (D_NEAR_JOINT, D_FAR_JOINT) if classes else (D_NEAR, D_FAR)
    _nearest, spread = nearest_other(vectors, groups, originals, classes)
    tau = DEFAULT_TAU
    if len(np.unique(groups[originals])) >= MIN_PROBES and len(spread):
        tau = max(float(np.median(spread)) * tau_fraction, 1e-6)
    if not confidence:
        return MappingParams(tau=tau, floor=floor)
    return MappingParams(tau=tau, floor=floor, d_near=d_near, d_far=d_far,
                         known_lo=known_ramp[0], known_hi=known_ramp[1],
                         support_gain=known.GAIN)
