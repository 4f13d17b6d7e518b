"""The scene part of the matching space: what the corpus' own scenes say tells them apart.

The network's features were learned for ImageNet's objects, not for a
corpus' places: to them a waterfall, a stream and wet rocks in a forest look
much alike, whatever the corpus' photos of each say. The corpus knows more:
its keyframes come labelled with their scenes. At build time a **linear
discriminant** (Fisher's, with shrinkage) of the keyframes' visual vectors
(features.py) by scene gives a few axes (at most one fewer than the scenes)
along which the scenes differ most relative to how much each varies within
itself; the (shrunk) within-scene spread is 1 along every axis.

Each keyframe's vector in the matching space then gets a fourth part,
``w_s · A·μ_scene``: the centre of its scene on those axes (the same for
every keyframe of a scene). A frame gets ``w_s · A·v``. The distance stays
euclidean in the joint space::

    d² = d_visual² + d_class² + d_kind² + w_s² · |A·v − A·μ_scene(k)|²

so within a frame p stays monotone in d; within a scene the new term is the
same for every keyframe (the choice among a scene's keyframes, and so among
its segments, is left to the other parts), while a frame that lies on the
waterfall side of the axes pulls towards every waterfall keyframe.

**Compressed pull** (builder 9 on). A frame far out on the axes is often not
more of one scene but simply unlike all of them (a sunset, a city): its terms
are large for every scene (median 85 against 24 for the nearest scene), and
their differences then outweigh what the visual and class parts say. So the
term enters as ``c·ln(1 + t/c)`` (``t = |A·v − A·μ_s|²``, ``c`` =
``COMPRESSION``): as ``t`` for a frame near a scene's centre, growing only
logarithmically far from every centre. It is still a euclidean distance:
``ln(1 + x)`` is a Bernstein function, and by Schoenberg's theorem a Bernstein
function of a squared euclidean distance is again one (the points embed
isometrically in a Hilbert space; tests/test_discriminant.py checks the Gram
matrix), so the joint space stays euclidean and p monotone in d. ``c`` is
stored with the corpus (``features.scene_compression``; 0 for the corpora of
older builders, which keep their space). The background's ratio test
(background.py) still reads the uncompressed term, the space it was measured
in: compressed, an ordinary place would lose its full distance from the
corpus' scenes and sound sure more often. Measured: corpora/README.md,
"Seventeenth round".

The fixed-space calibration (calibrate.py: τ, the unknown-sight distances)
is measured without this part, which depends on the corpus; the matcher
uses the nearest distance *without* it for the unknown-sight confidence.

Fitting costs one (D × D) eigenproblem (or (K × K) for fewer keyframes than
dimensions) at build time; per frame one (D × m) product and O(K).
Constants measured on the development set (corpora/README.md).
"""

from __future__ import annotations

import numpy as np

#: Weight w_s of the scene part (measured: corpora/README.md).
SCENE_WEIGHT = 0.2
#: Shrinkage of the within-scene scatter towards its mean variance (0: plain Fisher LDA,
#: which overfits a corpus of a few dozen photos; large: the axes tend to the directions
#: between the scene centres).
SHRINKAGE = 0.3
#: ``c`` of the compressed pull ``c·ln(1 + t/c)`` (in the squared units of the axes, where
#: a scene's within spread is 1; measured: corpora/README.md, "Seventeenth round").
COMPRESSION = 10.0
#: At most this many axes (a corpus of many videos has many scenes).
MAX_AXES = 64
_CHUNK = 4096


def fit(vectors: np.ndarray, scenes: np.ndarray,
        shrinkage: float | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Axes (float32 (D, m)) and scene centres on them (float32 (S, m), S = scenes.max() + 1)
    for visual vectors (K, D) labelled with scene numbers (K,); None when fewer than two
    scenes have keyframes (nothing to tell apart) or no scene has two different ones."""
    shrinkage = SHRINKAGE if shrinkage is None else shrinkage
    x = np.asarray(vectors, dtype=np.float64)
    labels = np.asarray(scenes, dtype=np.int64)
    n_scenes = int(labels.max()) + 1 if len(labels) else 0
    counts = np.bincount(labels, minlength=n_scenes)
    present = np.flatnonzero(counts)
    if len(present) < 2:
        return None
    mean = x.mean(axis=0)
    if len(x) < x.shape[1]:
        # Fewer keyframes than dimensions: work in the span of the centred keyframes.
        _, sv, vt = np.linalg.svd(x - mean, full_matrices=False)
        basis = vt[sv > 1e-9 * sv[0]].T  # (D, r)
    else:
        basis = None
    z = (x - mean) if basis is None else (x - mean) @ basis
    dim = z.shape[1]
    centres = np.zeros((n_scenes, dim))
    np.add.at(centres, labels, z)
    centres[present] /= counts[present, None]
    between = (centres[present].T * counts[present]) @ centres[present] / len(z)
    within = np.zeros((dim, dim))
    for start in range(0, len(z), _CHUNK):  # bounded memory for long video corpora
        part = z[start : start + _CHUNK] - centres[labels[start : start + _CHUNK]]
        within += part.T @ part
    within /= len(z)
    if float(np.trace(within)) <= 1e-9 * max(float(np.sum(z * z)) / len(z), 1e-30):
        return None  # every scene one view: nothing says how much a scene varies
    within += shrinkage * max(float(np.trace(within)) / dim, 1e-12) * np.eye(dim)
    # Generalised eigenproblem between·w = λ·within·w via the Cholesky factor of within.
    chol = np.linalg.cholesky(within)
    inv = np.linalg.inv(chol)
    values, vecs = np.linalg.eigh(inv @ between @ inv.T)
    order = np.argsort(values)[::-1][: min(len(present) - 1, MAX_AXES, dim)]
    order = order[values[order] > 1e-9]
    if len(order) == 0:
        return None
    axes = inv.T @ vecs[:, order]  # shrunk within-scene spread 1 along each axis
    if basis is not None:
        axes = basis @ axes
    scene_centres = np.zeros((n_scenes, axes.shape[1]))
    np.add.at(scene_centres, labels, x @ axes)
    scene_centres[present] /= counts[present, None]
    return axes.astype(np.float32), scene_centres.astype(np.float32)


def place(frame_visual: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """``A·v`` (float64 (m,)): one frame's place on the axes, from its visual vector (D,)."""
    return (np.asarray(frame_visual, dtype=np.float32) @ axes).astype(np.float64)


def squared_terms(frame_visual: np.ndarray, axes: np.ndarray, centres: np.ndarray,
                  at: np.ndarray | None = None) -> np.ndarray:
    """``|A·v − A·μ_s|²`` (float64 (S,)) for one frame's visual vector (D,), or for its
    :func:`place` ``at`` when already known (one product per frame)."""
    z = place(frame_visual, axes) if at is None else at
    diff = np.atleast_2d(centres).astype(np.float64) - z
    return np.einsum("sm,sm->s", diff, diff)


def compress(terms: np.ndarray, c: float) -> np.ndarray:
    """``c·ln(1 + t/c)`` of squared terms ``t`` (float64, any shape); ``c`` = 0: ``t`` as is.

    Increasing in ``t`` (the order of the scenes is kept) and a Bernstein function of it,
    so the space stays euclidean (module docstring)."""
    t = np.asarray(terms, dtype=np.float64)
    return t if c <= 0 else c * np.log1p(t / c)


def scene_terms(frame_visual: np.ndarray, axes: np.ndarray, centres: np.ndarray, c: float,
                at: np.ndarray | None = None) -> np.ndarray:
    """What the scene part adds to each squared distance, before its weight: the
    :func:`compress` ed :func:`squared_terms` (float64 (S,))."""
    return compress(squared_terms(frame_visual, axes, centres, at), c)
