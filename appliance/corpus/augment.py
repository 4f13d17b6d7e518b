"""Photo variants embedded as extra keyframes: other framings of the same place.

A camera never frames a place the way the corpus' photographer did. Each
variant is another view of a keyframe photo, passed to the embedder, which
then applies the one resize policy (centre square, bilinear):

- ``""``: the photo itself;
- ``"flip"``: mirrored left-right (a scene has no handedness);
- ``"left"`` / ``"right"``: the left / right square of a landscape photo (the
  centre square drops the sides; for portrait photos: top / bottom);
- ``"zoom"``: the central 60 % of the short side (a closer look).

Which variants a corpus uses is recorded in its manifest (``corpus.json``). By
default the photo, ``flip`` and ``zoom`` (``builder.DEFAULT_VARIANTS``, builder 7
on): on the development set they call up the right scene and segment more often
and, with the stricter unknown-sight ramp they allow, leave unknown sights nearer
the time-uniform p, for three times the keyframes and build time
(``corpora/README.md``, "Seventh round").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Variant = Callable[[np.ndarray], np.ndarray]


def _identity(rgb: np.ndarray) -> np.ndarray:
    return rgb


def _flip(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, ::-1])


def _side(first: bool) -> Variant:
    def crop(rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        side = min(h, w)
        if w >= h:
            left = 0 if first else w - side
            return np.ascontiguousarray(rgb[:, left : left + side])
        top = 0 if first else h - side
        return np.ascontiguousarray(rgb[top : top + side])

    return crop


def _zoom(rgb: np.ndarray, fraction: float = 0.6) -> np.ndarray:
    h, w = rgb.shape[:2]
    side = max(8, int(min(h, w) * fraction))
    top, left = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(rgb[top : top + side, left : left + side])


VARIANTS: dict[str, Variant] = {
    "": _identity,
    "flip": _flip,
    "left": _side(True),
    "right": _side(False),
    "zoom": _zoom,
}


def apply_variant(name: str, rgb: np.ndarray) -> np.ndarray:
    """The variant ``name`` of an H×W×3 uint8 photo."""
    return VARIANTS[name](rgb)
