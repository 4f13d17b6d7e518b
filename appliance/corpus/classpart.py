"""The class part of the matching space: what the network says a picture *is*.

A keyframe's vector in the matching space is its visual part (features.py:
the pooled embedding, square-rooted, unit length) followed by a class part:
``w · √P``, the square root of its ImageNet class posterior (vision/classes.py)
weighted by ``w`` (``FeatureSpace.classes``). Distances stay euclidean in
that joint space::

    d² = |v_frame − v_k|² + w² · |√P_frame − √P_k|²
       = d_visual² + w² · (2 − 2 · Σ_c √(P_frame(c) · P_k(c)))

The second term is the squared Hellinger distance between the two
posteriors: two pictures the network reads as the same kind of thing (a
cascade and a spillway, two different dogs) come nearer, whatever their
colours and framing. Measured on the development set (corpora/README.md).

ImageNet splits some kinds of thing finely (118 dog breeds): two dogs of
different breeds share no class, so their Hellinger term is as large as a
dog's and a harbour's. A third part, the **kind part** ``w_g · √G``, sums
the posterior over coarse kinds (``KINDS``: ranges of the class index, which
follows WordNet: dogs, house cats, poultry, bovids, sheep and goats,
landforms …; every other class in one "other" kind) and adds their Hellinger
distance too, so a terrier comes near a German shepherd. It is derived from
the stored classes at load (``keyframe_kinds``): no extra file.

Storage: each keyframe keeps only its ``CLASS_TOP`` most probable classes,
renormalised (``class_index.npy`` int16 and ``class_sqrt.npy`` uint8, the
square roots × 255, (K, CLASS_TOP)): 96 bytes a keyframe, 3.5 MB for 36,000
keyframes. The frame's posterior is kept whole. Large corpora sum with a
Numba kernel (kernel.py), small ones with NumPy.
"""

from __future__ import annotations

import numpy as np

from appliance.vision.classes import ClassHead

#: Weight w of the class part (measured: corpora/README.md).
CLASS_WEIGHT = 0.5
#: Classes kept per keyframe.
CLASS_TOP = 32
#: Weight w_g of the kind part (measured: corpora/README.md).
KIND_WEIGHT = 0.5
#: Kinds kept per keyframe (more never changed a figure: a keyframe's 32 classes fall in
#: a handful of kinds).
KIND_TOP = 8
_CHUNK = 1024

#: (first, last + 1) ImageNet class indices of one coarse kind of thing, in the index's
#: WordNet order; the classes outside every range form one more kind, "other".
KINDS: tuple[tuple[int, int], ...] = (
    (0, 7),        # fish (tench … stingray)
    (7, 9),        # cock, hen
    (9, 10),       # ostrich
    (10, 21),      # finches, thrushes and other small birds
    (21, 25),      # birds of prey, great grey owl
    (25, 33),      # salamanders, frogs
    (33, 38),      # turtles
    (38, 51),      # lizards, crocodiles
    (52, 69),      # snakes
    (69, 80),      # trilobite, spiders, scorpions, ticks, centipede
    (80, 87),      # grouse, peacock, quail, partridge
    (87, 97),      # parrots, toucans and other exotic birds
    (97, 101),     # drake, merganser, goose, black swan
    (101, 104),    # tusker, echidna, platypus
    (104, 127),    # jellyfish, corals, worms, snails, crabs, lobsters
    (127, 147),    # storks, herons, cranes, waders, pelican, penguin, albatross
    (147, 151),    # whales, dugong, sea lion
    (151, 269),    # dogs (Chihuahua … Mexican hairless)
    (269, 281),    # wolves, foxes and other wild canids
    (281, 286),    # house cats
    (286, 294),    # big cats
    (294, 298),    # bears
    (298, 300),    # mongoose, meerkat
    (300, 321),    # beetles, bees, ants, grasshoppers, dragonflies
    (321, 327),    # butterflies
    (327, 330),    # starfish, sea urchin, sea cucumber
    (330, 333),    # rabbits, hare
    (333, 339),    # hamster, porcupine, squirrel, marmot, beaver, guinea pig
    (339, 340),    # sorrel (the horse)
    (340, 341),    # zebra
    (341, 344),    # hog, wild boar, warthog
    (344, 345),    # hippopotamus
    (345, 348),    # ox, water buffalo, bison
    (348, 351),    # ram, bighorn, ibex
    (351, 354),    # hartebeest, impala, gazelle
    (354, 356),    # camel, llama
    (356, 365),    # weasels, otter, skunk, badger, armadillo, sloth
    (365, 385),    # primates
    (385, 387),    # elephants
    (387, 389),    # pandas
    (389, 398),    # more fish
    (970, 971),    # alp
    (972, 981),    # cliff, coral reef, geyser, lakeside, promontory, sandbar, seashore,
                   # valley, volcano
    (984, 986),    # rapeseed, daisy
    (991, 998),    # fungi
)


def _kind_of() -> np.ndarray:
    kind = np.full(1000, len(KINDS), dtype=np.int16)
    for number, (first, stop) in enumerate(KINDS):
        kind[first:stop] = number
    return kind


#: The kind (0 … N_KINDS − 1) of each ImageNet class.
KIND_OF = _kind_of()
N_KINDS = len(KINDS) + 1


def frame_kinds(posterior: np.ndarray) -> np.ndarray:
    """√ of a frame's posterior (1000,) summed per kind: float32 (N_KINDS,)."""
    mass = np.bincount(KIND_OF, weights=np.asarray(posterior, dtype=np.float64),
                       minlength=N_KINDS)
    return np.sqrt(mass / max(float(mass.sum()), 1e-30)).astype(np.float32)


def keyframe_kinds(idx: np.ndarray, sq: np.ndarray,
                   top: int = KIND_TOP) -> tuple[np.ndarray, np.ndarray]:
    """The kind part of stored class parts (int16 ``idx``, uint8 ``sq``, (K, T)): each
    keyframe's ``top`` largest kinds (int16 (K, top)) and the square roots of their
    renormalised masses × 255 (uint8 (K, top)), in the class part's own layout."""
    k = len(idx)
    kinds = np.empty((k, top), dtype=np.int16)
    roots = np.empty((k, top), dtype=np.uint8)
    for start in range(0, k, _CHUNK):
        part_idx, part_sq = idx[start : start + _CHUNK], sq[start : start + _CHUNK]
        n = len(part_idx)
        cells = np.arange(n)[:, None] * N_KINDS + KIND_OF[part_idx.astype(np.int64)]
        weights = (part_sq.astype(np.float64) / 255.0) ** 2
        mass = np.bincount(cells.ravel(), weights=weights.ravel(),
                           minlength=n * N_KINDS).reshape(n, N_KINDS)
        best = np.argsort(-mass, axis=1, kind="stable")[:, :top]
        kept = np.take_along_axis(mass, best, axis=1)
        kept /= np.maximum(kept.sum(axis=1, keepdims=True), 1e-30)
        kinds[start : start + n] = best
        roots[start : start + n] = np.rint(np.sqrt(kept) * 255.0)
    return kinds, roots


def keyframe_classes(head: ClassHead, pooled: np.ndarray,
                     top: int = CLASS_TOP) -> tuple[np.ndarray, np.ndarray]:
    """For raw pooled vectors (K, 2048): the ``top`` classes of each (int16 (K, top)) and the
    square roots of their renormalised posteriors × 255 (uint8 (K, top))."""
    idx = np.empty((len(pooled), top), dtype=np.int16)
    sq = np.empty((len(pooled), top), dtype=np.uint8)
    for start in range(0, len(pooled), 256):
        post = head.posterior(pooled[start : start + 256])
        best = np.argsort(-post, axis=1)[:, :top]
        kept = np.take_along_axis(post, best, axis=1)
        kept /= kept.sum(axis=1, keepdims=True)
        idx[start : start + len(post)] = best
        sq[start : start + len(post)] = np.rint(np.sqrt(kept) * 255.0)
    return idx, sq


#: Above this many keyframes the sum runs in the Numba kernel.
KERNEL_MIN = 4096


def squared_distances(frame_sqrt: np.ndarray, idx: np.ndarray, sq: np.ndarray) -> np.ndarray:
    """``|√P_frame − √P_k|²`` (float64 (K,)) for one frame's √posterior (1000,), or its
    √kinds (N_KINDS,), against the stored keyframe parts (int16 ``idx``, uint8 ``sq``)."""
    frame_sqrt = np.asarray(frame_sqrt, dtype=np.float32)
    if len(idx) > KERNEL_MIN:
        from appliance.corpus.kernel import class_overlap

        overlap = class_overlap(idx, sq, frame_sqrt).astype(np.float64)
    else:
        overlap = np.einsum("kj,kj->k", sq.astype(np.float32), frame_sqrt[idx],
                            dtype=np.float64) / 255.0
    return np.maximum(2.0 - 2.0 * overlap, 0.0)


def pairwise_squared(probe_idx: np.ndarray, probe_sq: np.ndarray, idx: np.ndarray,
                     sq: np.ndarray) -> np.ndarray:
    """``|√P_i − √P_k|²`` (float64 (n, K)) between stored parts (class or kind parts; for
    calibration), in chunks of keyframes so that memory stays bounded for long video
    corpora."""
    n = len(probe_idx)
    width = int(max(probe_idx.max(initial=0), idx.max(initial=0))) + 1
    dense = np.zeros((n, width), dtype=np.float32)
    np.put_along_axis(dense, probe_idx.astype(np.int64),
                      probe_sq.astype(np.float32) / 255.0, axis=1)
    out = np.empty((n, len(idx)), dtype=np.float64)
    sq32 = sq.astype(np.float32) / 255.0
    for start in range(0, len(idx), _CHUNK):
        part_idx = idx[start : start + _CHUNK]
        part = np.einsum("kj,nkj->nk", sq32[start : start + _CHUNK], dense[:, part_idx])
        out[:, start : start + len(part_idx)] = np.maximum(2.0 - 2.0 * part, 0.0)
    return out
