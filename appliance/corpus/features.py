"""The matching space: what a raw embedding becomes before distances are taken.

The embedder gives the pooled ResNet50 vector (2048 non-negative ReLU means)
and, optionally, the 7×7×2048 feature map it was pooled from. A
:class:`FeatureSpace` maps either to the vector the corpus stores and the
live frame is compared with:

1. pooling: ``"mean"`` (the model's own pooled vector) or ``"gem"`` (the
   generalized mean with exponent 3 over the 7×7 regions, which leans on the
   strongest regions: needs the feature map);
2. ``power``: component-wise ``x ** power`` (0.5, the "square-root" or
   Hellinger map, evens out a few very large activations; 1 leaves x as is);
3. ``center``: subtract a mean vector (stored with the corpus) so distances
   look at what differs between places, not at what all photos share;
4. ``l2``: scale to unit length, so brightness and contrast (which scale all
   activations together) matter less, and distances lie in [0, 2].

Every new corpus uses ``builder.DEFAULT_FEATURES``: mean pooling, power
0.5, L2, no centring (the one space in which "unknown sight" can be defined
once for every corpus). The alternatives stay here because
``scripts/measure_matching.py`` measures them; figures in ``corpora/README.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from appliance.errors import CorpusError

POOLINGS = ("mean", "gem")
GEM_P = 3.0


@dataclass(frozen=True)
class FeatureSpace:
    """A deterministic map from an embedding to the matching space (see module docstring)."""

    pooling: str = "mean"
    power: float = 1.0
    l2: bool = True
    center: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: Weight of the class part (classpart.py) appended to the visual vector; 0: none.
    classes: float = 0.0
    #: Weight of the kind part (classpart.py: the class posterior summed per coarse kind);
    #: 0: none. Only with a class part.
    kinds: float = 0.0
    #: Weight of the scene part (discriminant.py: the corpus' scene-discriminant axes);
    #: 0: none.
    scenes: float = 0.0
    #: ``c`` of the scene part's compression ``c·ln(1 + t/c)`` (discriminant.py); 0: none
    #: (the corpora of builder 8 and older, which keep the space they were built in).
    scene_compression: float = 0.0

    @property
    def needs_feature_map(self) -> bool:
        return self.pooling != "mean"

    def describe(self) -> dict[str, object]:
        """The JSON-able description stored in a corpus manifest."""
        return {"pooling": self.pooling, "power": self.power, "l2": self.l2,
                "center": self.center is not None, "classes": self.classes,
                "kinds": self.kinds, "scenes": self.scenes,
                "scene_compression": self.scene_compression}

    @classmethod
    def from_description(cls, desc: object, center: np.ndarray | None, where: str) -> FeatureSpace:
        """Rebuild from :meth:`describe` (checked: a bad value raises CorpusError)."""
        keys = {"pooling", "power", "l2", "center", "classes", "kinds", "scenes",
                "scene_compression"}
        if isinstance(desc, dict) and "kinds" not in desc and "scenes" not in desc:
            # Builder 3: no kind or scene part; its calibration was measured without them.
            desc = {**desc, "kinds": 0.0, "scenes": 0.0}
        if isinstance(desc, dict) and "scene_compression" not in desc:
            # Builder 8 and older: the scene part as it was, uncompressed.
            desc = {**desc, "scene_compression": 0.0}
        if not isinstance(desc, dict) or set(desc) != keys:
            raise CorpusError(f"{where}: 'features' must have {', '.join(sorted(keys))}")
        pooling, power, l2, has_center = desc["pooling"], desc["power"], desc["l2"], desc["center"]
        classes, kinds, scenes = (_weight(desc, key, where)
                                  for key in ("classes", "kinds", "scenes"))
        compression = _weight(desc, "scene_compression", where, high=1e6)
        if kinds > 0 and classes == 0:
            raise CorpusError(f"{where}: feature 'kinds' must be 0 without a class part")
        if pooling not in POOLINGS:
            raise CorpusError(f"{where}: unknown pooling {pooling!r}")
        if isinstance(power, bool) or not isinstance(power, int | float) or not 0 < power <= 1:
            raise CorpusError(f"{where}: feature power must be in (0, 1]")
        if not isinstance(l2, bool) or not isinstance(has_center, bool):
            raise CorpusError(f"{where}: 'l2' and 'center' must be true or false")
        if has_center != (center is not None):
            raise CorpusError(f"{where}: the feature mean file is missing or unexpected")
        return cls(pooling, float(power), l2, center, classes, kinds, scenes, compression)

    def without_scenes(self) -> FeatureSpace:
        return replace(self, scenes=0.0)

    def with_center(self, center: np.ndarray | None) -> FeatureSpace:
        return replace(self, center=center)

    def pool(self, vector: np.ndarray, feature_map: np.ndarray | None) -> np.ndarray:
        """Step 1 only: (D,) float32 from the pooled vector or the (H, W, D) map."""
        if self.pooling == "mean":
            return np.asarray(vector, dtype=np.float32)
        if feature_map is None:
            raise CorpusError("this corpus matches on the 7×7 feature map, but the model gives "
                              "only the pooled vector; rebuild the corpus or the model")
        fm = np.maximum(np.asarray(feature_map, dtype=np.float32), 0.0)
        fm = fm.reshape(-1, fm.shape[-1])
        return (np.mean(fm**GEM_P, axis=0) ** np.float32(1.0 / GEM_P)).astype(np.float32)

    def finish(self, pooled: np.ndarray) -> np.ndarray:
        """Steps 2-4 on pooled vectors: (D,) or (K, D) float32 → same shape."""
        x = np.asarray(pooled, dtype=np.float32)
        if self.power != 1.0:
            x = np.sign(x) * np.abs(x) ** np.float32(self.power)
        if self.center is not None:
            x = x - self.center
        if self.l2:
            norm = np.linalg.norm(x, axis=-1, keepdims=True)
            x = x / np.maximum(norm, np.float32(1e-12))
        return x.astype(np.float32, copy=False)

    def __call__(self, vector: np.ndarray, feature_map: np.ndarray | None = None) -> np.ndarray:
        return self.finish(self.pool(vector, feature_map))

    def fit_center(self, pooled: np.ndarray) -> FeatureSpace:
        """A copy whose center is the mean of ``pooled`` (K, D) after the power map."""
        x = np.asarray(pooled, dtype=np.float32)
        if self.power != 1.0:
            x = np.sign(x) * np.abs(x) ** np.float32(self.power)
        return self.with_center(x.mean(axis=0).astype(np.float32))


def _weight(desc: dict, key: str, where: str, high: float = 10.0) -> float:
    """A number in [0, ``high``] from a features description (a part's weight, or the scene
    part's compression)."""
    value = desc[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high:
        raise CorpusError(f"{where}: feature {key!r} must be a number in [0, {high:g}]")
    return float(value)
