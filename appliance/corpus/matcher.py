"""Matching a camera frame against a corpus: distances → p per keyframe → masses per scene.

The live loop calls, for each frame::

    p = matcher.probabilities(embedding)   # embedding = embedder.embed_full(frame),
                                           # or embedder.embed(frame) when
                                           # not matcher.needs_feature_map

(or, to keep the distances too: ``d = matcher.distances(embedding)``, then
``p = matcher.probabilities_from_distances(d, matcher.known_confidence(embedding, d))``)

and hands ``p`` (float64 (K,), sums to 1, a probability per keyframe) to the
synthesizer. When the camera is lost it relaxes to ``matcher.uniform()``.

Cost per frame: one pass over the K×D int8 keyframe rows plus O(K) work.
Small corpora (≤ ``DENSE_MAX`` keyframes) keep a float32 copy and use BLAS;
large ones one two-threaded Numba pass (kernel.py) that reads each int8 row
once and adds its class and kind parts while it is in cache: 36,000
keyframes in under 10 ms (``scripts/bench``, key ``match_ms_36k``).

When both the distances and p are wanted (e.g. to show the nearest
keyframes), call :meth:`Matcher.distances` once and then
:meth:`Matcher.probabilities_from_distances`, not both methods.
"""

from __future__ import annotations

import numpy as np

from appliance.corpus import background, classpart, discriminant, known
from appliance.corpus.fileformat import Corpus
from appliance.corpus.mapping import kernel
from appliance.corpus.mapping import probabilities as map_probabilities

#: Up to this many keyframes (32 MB of float32 at 2048-d) the rows are kept as float32.
DENSE_MAX = 4096


class RowSet:
    """A set of stored rows in the matching space's fixed parts (visual, class, kind): a
    corpus' keyframes, or its background's rows (background.py).

    Up to ``DENSE_MAX`` rows of the corpus a float32 copy for BLAS; beyond, the int8 rows
    for the one-pass Numba kernel (kernel.py) and no BLAS call: OpenBLAS threads spin
    after each call and would take the two cores from the Numba pass (twice its time,
    measured).
    """

    def __init__(self, q: np.ndarray, scales: np.ndarray, dense: bool,
                 classes: tuple[np.ndarray, np.ndarray] | None, kinds: bool) -> None:
        self.dense = dense
        if dense:
            self.rows = q.astype(np.float32) * scales[:, None]
            self.sq = np.einsum("kd,kd->k", self.rows, self.rows).astype(np.float64)
        else:
            from appliance.corpus.kernel import int8_sqnorm

            self.rows = q
            self.scales = scales.astype(np.float64)
            self.sq = int8_sqnorm(q).astype(np.float64) * self.scales**2
            self._d2 = np.empty(q.shape[0], dtype=np.float64)  # reused by every frame
        #: (index, √mass × 255) of the class part and of the kind part (derived from the
        #: stored classes once: K × KIND_TOP bytes twice), or None.
        self.classes = classes
        self.kinds = classpart.keyframe_kinds(*classes) if classes is not None and kinds \
            else None

    @property
    def nbytes(self) -> int:
        parts = [self.rows, self.sq, *(self.classes or ()), *(self.kinds or ())]
        return sum(a.nbytes for a in parts) + (0 if self.dense else self.scales.nbytes)

    def squared(self, v: np.ndarray, posterior: np.ndarray | None, class_weight: float,
                kind_weight: float) -> np.ndarray:
        """Squared fixed-part distances (float64 (K,)) from a frame's matching-space vector
        ``v`` and ImageNet ``posterior`` (None: no class or kind part) to every row."""
        use_classes = posterior is not None and self.classes is not None and class_weight > 0
        use_kinds = use_classes and self.kinds is not None and kind_weight > 0
        if not self.dense:
            from appliance.corpus.kernel import joint_squared

            frame_classes = (*self.classes, np.sqrt(posterior), class_weight) \
                if use_classes else None
            frame_kinds = (*self.kinds, classpart.frame_kinds(posterior), kind_weight) \
                if use_kinds else None
            return joint_squared(self.rows, self.scales, self.sq, v, frame_classes,
                                 frame_kinds, self._d2)
        d2 = float(v.astype(np.float64) @ v) + self.sq - 2.0 * (self.rows @ v).astype(np.float64)
        if use_classes:
            d2 = d2 + class_weight**2 * classpart.squared_distances(
                np.sqrt(posterior).astype(np.float32), *self.classes)
            if use_kinds:
                d2 = d2 + kind_weight**2 * classpart.squared_distances(
                    classpart.frame_kinds(posterior), *self.kinds)
        return np.maximum(d2, 0.0)


class Matcher:
    """Distances and probabilities for one loaded corpus (not thread-safe)."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self.features = corpus.features
        self.params = corpus.matching
        spans = corpus.span_seconds()
        self._uniform = spans / spans.sum()
        self._uniform.flags.writeable = False
        self.dense = corpus.embeddings.shape[0] <= DENSE_MAX
        self._scene_idx = np.asarray([corpus.scene_names.index(s) for s in corpus.scenes])
        seg = [corpus.segment_labels.index(s) if s else -1 for s in corpus.segments]
        self._segment_idx = np.asarray(seg, dtype=np.int64)
        # One class envelope per scene (builder 6 on), or one for the whole corpus (3 to 5).
        self._support = corpus.class_support
        self._class_weight = self.features.classes if corpus.class_index is not None else 0.0
        self._kind_weight = self.features.kinds if self._class_weight > 0 else 0.0
        classes = None if self._class_weight <= 0 else (corpus.class_index, corpus.class_sqrt)
        self.keyframes = RowSet(corpus.embeddings, corpus.scales, self.dense, classes,
                                self._kind_weight > 0)
        # The background's rows (background.py), held like the keyframes'.
        self.background: RowSet | None = None
        if corpus.background_embeddings is not None and corpus.background_scales is not None:
            bg_classes = None if corpus.background_class_index is None else (
                corpus.background_class_index, corpus.background_class_sqrt)
            self.background = RowSet(corpus.background_embeddings, corpus.background_scales,
                                     self.dense, bg_classes, self._kind_weight > 0)
        self._last_bg: np.ndarray | None = None
        self._scene_weight = self.features.scenes if corpus.scene_axes is not None else 0.0
        self._scene_axes, self._scene_centres = corpus.scene_axes, corpus.scene_centres
        # The last distances() result and its nearest distance without the scene part (the
        # distance confidence reads that one: probabilities_from_distances).
        self._last_d: np.ndarray | None = None
        self._last_nearest = 0.0
        self._last_v: np.ndarray | None = None
        self._last_z: np.ndarray | None = None
        self._head = None
        if (self.params.uses_known and self._support is not None) or self._class_weight > 0:
            from appliance.vision.classes import class_head

            self._head = class_head()
        # The last frame's posterior: distances() and known_confidence() of one frame share it.
        self._last_vector: np.ndarray | None = None
        self._last_posterior: np.ndarray | None = None

    @property
    def has_background(self) -> bool:
        """True when the corpus carries the background (builder 8 on; background.py)."""
        return self.background is not None

    @property
    def needs_feature_map(self) -> bool:
        """True when frames must be embedded with ``embed_full`` (the corpus pools regions)."""
        return self.features.needs_feature_map

    def transform(self, x) -> np.ndarray:
        """A raw embedding (the (D,) pooled vector, or an Embedding) → the matching space."""
        if hasattr(x, "vector"):
            return self.features(x.vector, x.feature_map)
        return self.features(np.asarray(x, dtype=np.float32), None)

    def distances(self, x) -> np.ndarray:
        """Euclidean distances (float64 (K,)) in the matching space from a frame to each keyframe.

        ``x``: the embedder's pooled vector (D,) or an Embedding (vector + feature map).
        """
        v = self.transform(x)
        d2 = self.keyframes.squared(v, self._frame_posterior(x), self._class_weight,
                                    self._kind_weight)
        nearest = float(np.sqrt(d2.min()))
        z = None
        if self._scene_weight > 0:
            z = discriminant.place(v, self._scene_axes)
            terms = discriminant.scene_terms(v, self._scene_axes, self._scene_centres,
                                             self.features.scene_compression, z)
            d2 = d2 + self._scene_weight**2 * terms[self._scene_idx]
        d = np.sqrt(d2)
        self._last_d, self._last_nearest, self._last_v, self._last_z = d, nearest, v, z
        self._last_bg = None if self.background is None else self._background_distances(v, x, z)
        return d

    def _background_distances(self, v: np.ndarray, x, z: np.ndarray | None = None) -> np.ndarray:
        """Distances (float64 (B,)) from a frame (its matching-space vector ``v``; ``z``:
        its place on the scene axes when known) to the background's rows, in the space of
        the ratio test: the keyframes' joint space with the scene part uncompressed
        (:meth:`_ratio_distances`)."""
        assert self.background is not None
        d2 = self.background.squared(v, self._frame_posterior(x), self._class_weight,
                                     self._kind_weight)
        if self._scene_weight > 0 and self.corpus.background_centre is not None:
            d2 = d2 + self._scene_weight**2 * float(discriminant.squared_terms(
                v, self._scene_axes, self.corpus.background_centre, z)[0])
        return np.sqrt(np.maximum(d2, 0.0))

    def _ratio_distances(self, d: np.ndarray, v: np.ndarray,
                         z: np.ndarray | None) -> np.ndarray:
        """The keyframe distances ``d`` (:meth:`distances`) with the scene part
        uncompressed, float64 (K,): the space the background's ratio test was measured in
        (builder 8), where ordinary places keep their full distance from the corpus'
        scenes on the axes (discriminant.py: measured, "Seventeenth round"). O(K)."""
        c = self.features.scene_compression
        if self._scene_weight <= 0 or c <= 0:
            return d
        t = discriminant.squared_terms(v, self._scene_axes, self._scene_centres, z)
        extra = t - discriminant.compress(t, c)  # ≥ 0: what the compression took off
        return np.sqrt(d * d + self._scene_weight**2 * extra[self._scene_idx])

    def background_share(self, x, d: np.ndarray) -> float:
        """``b`` (0 … 1): how much a frame at distances ``d`` (:meth:`distances`) calls up
        the background, ordinary places no corpus has sound for (background.py); 0 for a
        corpus without one."""
        if self.background is None:
            return 0.0
        if d is self._last_d and self._last_bg is not None:
            v, z, d_bg = self._last_v, self._last_z, self._last_bg
        else:
            v = self.transform(x)
            z = None if self._scene_weight <= 0 else discriminant.place(v, self._scene_axes)
            d_bg = self._background_distances(v, x, z)
        return background.background_share(self._ratio_distances(d, v, z), self._uniform,
                                           d_bg, self.params.tau,
                                           self.corpus.background_share)

    def _frame_posterior(self, x) -> np.ndarray | None:
        """The frame's posterior when the space has a class part, else None."""
        return self.posterior(x) if self._class_weight > 0 else None

    def _nearest(self, d: np.ndarray) -> float | None:
        """The nearest distance without the scene part, for distances from distances()."""
        return self._last_nearest if d is self._last_d else None

    def posterior(self, x) -> np.ndarray:
        """The frame's ImageNet class posterior (float64 (1000,)); computed once per frame."""
        vector = x.vector if hasattr(x, "vector") else x
        if vector is not self._last_vector or self._last_posterior is None:
            assert self._head is not None
            self._last_posterior = self._head.posterior(np.asarray(vector, dtype=np.float32))
            self._last_vector = vector
        return self._last_posterior

    def knownness(self, x, d: np.ndarray) -> float:
        """Share (0 … 1) of the frame's ImageNet class belief on classes that the pictures of
        the scenes it calls up show (known.py); ``d``: its :meth:`distances`, which say how
        much it calls up each scene. 1.0 when the corpus has no class support."""
        if self._head is None or self._support is None:
            return 1.0
        weights = None
        if len(self._support) > 1:
            s = kernel(d, self._uniform, self.params.tau)
            weights = np.bincount(self._scene_idx, weights=s, minlength=len(self._support))
        return known.knownness(self.posterior(x), self._support, weights,
                               self.params.support_gain)

    def known_confidence(self, x, d: np.ndarray) -> float:
        """The unknown-sight factor (0 … 1) for a frame at distances ``d``
        (:meth:`distances`): 0 for a kind of place the corpus has no pictures of, or for
        a frame nearer to the background's ordinary places than to the corpus (p relaxes
        to :meth:`uniform`), 1 for a known kind."""
        c = 1.0
        if self._head is not None and self._support is not None and self.params.uses_known:
            c = known.known_confidence(self.knownness(x, d), self.params.known_lo,
                                       self.params.known_hi)
        # Nearer to ordinary places than to the corpus: less sure in proportion.
        return c * (1.0 - self.background_share(x, d))

    def probabilities(self, x) -> np.ndarray:
        """p per keyframe (float64 (K,), sums to 1) for a frame; see mapping.py for the map."""
        d = self.distances(x)
        return map_probabilities(d, self._uniform, self.params, self.known_confidence(x, d),
                                 self._nearest(d))

    def probabilities_from_distances(self, d: np.ndarray,
                                     known_confidence: float) -> np.ndarray:
        """p per keyframe from distances already computed with :meth:`distances` and the
        frame's :meth:`known_confidence` (required: leaving it out would trust every
        sight)."""
        return map_probabilities(d, self._uniform, self.params, known_confidence,
                                 self._nearest(d))

    def positions(self, feature_map: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Left-right place (−1 left … +1 right, float64 (K,)) in the frame of each of the
        most probable keyframes under ``p``, from the frame's (H, W, D) feature map; the
        other keyframes get 0 (centre). See direction.py."""
        from appliance.corpus import direction

        out = np.zeros(len(p), dtype=np.float64)
        n = min(direction.TOP, len(p))
        top = np.argpartition(-p, n - 1)[:n]  # O(K): no full sort of a long corpus
        keys = self.keyframes
        if keys.dense:
            rows = keys.rows[top]
        else:
            rows = keys.rows[top].astype(np.float32) * keys.scales[top, None].astype(np.float32)
        columns = direction.column_vectors(self.features, feature_map)
        x, nearest = direction.place(columns, rows)
        groups = self._scene_idx[top] * (len(self.corpus.segment_labels) + 1) \
            + self._segment_idx[top] + 1
        out[top] = direction.share_by_group(x, nearest, groups)
        return out

    def uniform(self) -> np.ndarray:
        """The distribution to relax to when the camera is lost: p ∝ span, every second alike."""
        return self._uniform.copy()

    def scene_masses(self, p: np.ndarray) -> dict[str, float]:
        """Sum of p over each scene's keyframes (sums to 1), in timeline order."""
        sums = np.bincount(self._scene_idx, weights=p, minlength=len(self.corpus.scene_names))
        return {n: float(m) for n, m in zip(self.corpus.scene_names, sums, strict=True)}

    def segment_masses(self, p: np.ndarray) -> dict[str, float]:
        """Sum of p over each labelled segment's keyframes ({} when the corpus has none)."""
        labels = self.corpus.segment_labels
        if not labels:
            return {}
        inside = self._segment_idx >= 0
        sums = np.bincount(self._segment_idx[inside], weights=p[inside], minlength=len(labels))
        return {n: float(m) for n, m in zip(labels, sums, strict=True)}

    def top(self, p: np.ndarray, d: np.ndarray, n: int = 5) -> list[dict[str, object]]:
        """The ``n`` most probable keyframes: time (s), scene, segment, origin, distance, p."""
        order = np.argsort(-p, kind="stable")[:n]
        c = self.corpus
        return [{"time": float(c.keyframe_times[k]), "scene": c.scenes[k],
                 "segment": c.segments[k], "origin": c.origins[k], "variant": c.variants[k],
                 "distance": float(d[k]), "p": float(p[k])} for k in order]
