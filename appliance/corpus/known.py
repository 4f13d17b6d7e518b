"""Is this a kind of place the corpus has pictures of? The unknown-sight confidence.

The nearest distance alone does not tell: a living room's nearest keyframe
can be as near as a new photo of a harbour's. What tells is *what* the
picture shows, and the network knows that: its own ImageNet classifier
(vision/classes.py) puts a couch, a cup or a wall clock in classes that no
outdoor keyframe ever reaches, and a meadow, a hen or a pier in the classes
the corpus' pictures do reach.

At build time each scene s and each class c get a **support** ``S_s(c)``:
the largest posterior any keyframe of that scene gives the class (the
scene's *class envelope*). For a frame with posterior ``P`` whose distances
call up scene s with weight ``w_s`` (the kernel's mass on the scene's
keyframes, before any confidence: mapping.kernel)::

    known_s = min(1, Σ_c min(P(c), GAIN · S_s(c)))
    known   = Σ_s w_s · known_s                          (0 … 1)
    c_known = clip((known − KNOWN_LO) / (KNOWN_HI − KNOWN_LO), 0, 1)

One envelope per scene, not one for the whole corpus: a city skyline calls
up the harbour, and the question is whether the *harbour's* pictures show
what the network sees there (water, boats, a quay), not whether some picture
of any scene shows a church tower. (Builder 3 to 5 corpora keep one envelope
for the whole corpus: one row, weight 1, and play by that rule.)

ImageNet splits some kinds of thing finely (118 dog breeds, five house
cats): a corpus whose dog is a German shepherd should know a terrier as a
dog. So each class of a coarse group (``CLASS_GROUPS``: dogs, wild canids,
house cats, big cats, hoofed animals, poultry, waterfowl, landforms; ranges
of the ImageNet class index, which follows WordNet) gets at least
``GROUP_SHARE`` of its group's largest support.

``known_s`` is the histogram intersection of the frame's class belief with the
envelope, the envelope raised ``GAIN`` times so a class the corpus shows
only faintly still counts: a keyframe's own picture gives exactly 1, a new
view of a known kind of place most of its belief, a couch or a cup almost
nothing. The mapping (mapping.py) multiplies its distance confidence by
``c_known``: an unknown sight relaxes to the corpus' time-uniform p, the
sound of "somewhere". It is one number per frame, so within a frame p stays
monotone in distance. The constants are measured on the development set
(corpora/dev, ``scripts/measure_matching.py``; figures in corpora/README.md).
"""

from __future__ import annotations

import numpy as np

from appliance.vision.classes import N_CLASSES, ClassHead

SUPPORT_TEMPERATURE = 1.0
GAIN = 3.0
GROUP_SHARE = 0.5
#: (first, last + 1) ImageNet class indices of one coarse kind of thing.
CLASS_GROUPS: tuple[tuple[int, int], ...] = (
    (151, 269),  # dogs (Chihuahua … Mexican hairless)
    (269, 281),  # wolves, foxes and other wild canids
    (281, 286),  # house cats (tabby … Egyptian cat)
    (286, 294),  # big cats (cougar … cheetah)
    (339, 356),  # hoofed animals (sorrel, hog, ox, ram … llama)
    (7, 9),      # cock, hen
    (97, 101),   # drake, merganser, goose, black swan
    (970, 971),  # alp
    (972, 981),  # cliff, coral reef, geyser, lakeside, promontory, sandbar, seashore,
                 # valley, volcano
)
#: The ramp from ``known`` to the confidence (builder 7 on; builder 6 stored 0.2-0.6):
#: a corpus whose photos are also keyframes mirrored and closer up is near a new view of
#: its kinds of place, so an unknown sight can be judged more strictly.
KNOWN_LO = 0.4
KNOWN_HI = 0.8
#: The ramp of a corpus that carries the background (builder 8 on, background.py): the
#: frames nearest to ordinary places are already relaxed by it, so the class test can be
#: gentler with new views of the corpus' own kinds (corpora/README.md, "Eleventh round";
#: builder 8 stored 0.1-0.5, builder 9's compressed scene pull a little stricter:
#: "Seventeenth round").
KNOWN_LO_BACKGROUND = 0.2
KNOWN_HI_BACKGROUND = 0.6
#: One envelope per scene (builder 6 on); False builds one for the whole corpus, as
#: builders 3 to 5 did (measure_matching.py --ideas compares the two).
PER_SCENE = True


def class_support(head: ClassHead, pooled: np.ndarray, scenes: np.ndarray | None = None,
                  temperature: float = SUPPORT_TEMPERATURE) -> np.ndarray:
    """float32 (S, 1000): for each scene, the largest posterior (at ``temperature``) any of
    its keyframes (rows of ``pooled``, the model's raw (K, 2048) vectors) gives each
    ImageNet class. ``scenes``: each keyframe's scene index (K,), 0 … S − 1; None: one
    scene (S = 1)."""
    scenes = np.zeros(len(pooled), np.int64) if scenes is None else np.asarray(scenes)
    support = np.zeros((int(scenes.max(initial=0)) + 1, N_CLASSES), dtype=np.float64)
    for start in range(0, len(pooled), 256):  # bounded memory for long video corpora
        chunk = head.posterior(pooled[start : start + 256], temperature)
        np.maximum.at(support, scenes[start : start + 256], chunk)
    for first, stop in CLASS_GROUPS:
        group = support[:, first:stop]
        np.maximum(group, GROUP_SHARE * group.max(axis=1, keepdims=True), out=group)
    return support.astype(np.float32)


def knownness(posterior: np.ndarray, support: np.ndarray, weights: np.ndarray | None = None,
              gain: float = GAIN) -> float:
    """Share (0 … 1) of a frame's class posterior (1000,) that the envelopes of the scenes it
    calls up cover: ``support`` (S, 1000) or one envelope (1000,); ``weights`` (S,), summing
    to 1, how much the frame calls up each scene (None: one envelope)."""
    rows = np.atleast_2d(support).astype(np.float64)
    if weights is None:
        if len(rows) != 1:
            raise ValueError("knownness: several scene envelopes need the scene weights")
        weights = np.ones(1)
    # Scenes the frame hardly calls up cost nothing (a long video corpus has many).
    used = np.flatnonzero(np.asarray(weights) > 1e-4)
    covered = np.minimum(posterior[None, :], gain * rows[used]).sum(axis=1)
    return float(min(1.0, float(np.asarray(weights)[used] @ np.minimum(covered, 1.0))))


def known_confidence(known: float, lo: float = KNOWN_LO, hi: float = KNOWN_HI) -> float:
    """The ramp from ``known`` to the confidence factor (0 below ``lo``, 1 above ``hi``)."""
    return float(min(1.0, max(0.0, (known - lo) / (hi - lo))))
