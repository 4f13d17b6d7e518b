"""The kind part of the matching space: two dogs of different breeds are both dogs.

ImageNet has 118 dog breeds; a corpus' dog is one of them. Without the kind
part a new dog of another breed shares no class with it, and its nearest
segment is whatever looks alike (a horse in a field). These tests use the
real model and the demo photos.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_corpus_support import corpus_variant

from appliance.corpus import Matcher, classpart, load_corpus, resolve_corpus
from appliance.vision.classes import ClassHead, class_head
from appliance.vision.images import load_rgb


@pytest.fixture(scope="module")
def head() -> ClassHead:
    return class_head()


def _one_hot(head: ClassHead, *names: str) -> np.ndarray:
    p = np.zeros(1000)
    for name in names:
        p[list(head.labels).index(name)] = 1.0 / len(names)
    return p


def test_every_class_has_one_kind_and_the_kinds_do_not_overlap() -> None:
    covered = np.zeros(1000, dtype=int)
    for first, stop in classpart.KINDS:
        assert 0 <= first < stop <= 1000
        covered[first:stop] += 1
    assert covered.max() == 1
    assert classpart.KIND_OF.min() == 0 and classpart.KIND_OF.max() == classpart.N_KINDS - 1


def test_two_breeds_are_one_kind_a_dog_and_a_horse_are_not(head: ClassHead) -> None:
    terrier = classpart.frame_kinds(_one_hot(head, "Staffordshire_bullterrier"))
    shepherd = classpart.frame_kinds(_one_hot(head, "German_shepherd"))
    horse = classpart.frame_kinds(_one_hot(head, "sorrel"))
    assert float(terrier @ shepherd) == pytest.approx(1.0)  # Bhattacharyya overlap
    assert float(terrier @ horse) == pytest.approx(0.0)
    for kinds in (terrier, shepherd, horse):
        assert float(kinds @ kinds) == pytest.approx(1.0)


def test_stored_kinds_agree_with_the_frame_kinds_of_the_stored_classes(head: ClassHead,
                                                                      embedder,
                                                                      media: Path) -> None:
    pooled = np.stack([embedder.embed_file(media / rel) for rel in (
        "farm/dog/dog.jpg", "farm/cow/cow.jpg", "harbour/harbour_city_quay.jpg")])
    idx, sq = classpart.keyframe_classes(head, pooled)
    kinds, roots = classpart.keyframe_kinds(idx, sq)
    assert kinds.shape == roots.shape == (3, classpart.KIND_TOP)
    for k in range(3):
        stored = np.zeros(1000)
        stored[idx[k]] = (sq[k] / 255.0) ** 2
        dense = np.zeros(classpart.N_KINDS)
        dense[kinds[k]] = roots[k] / 255.0
        np.testing.assert_allclose(dense, classpart.frame_kinds(stored), atol=0.01)


def _without_kinds(src: Path, into: Path, as_builder_3: bool = False) -> Path:
    """A copy of corpus ``src`` with no kind part in its space (as builder 3 wrote it: no
    kind and no scene part)."""
    def edit(manifest: dict) -> None:
        if as_builder_3:
            manifest["build"]["builder"] = 3
            del manifest["features"]["kinds"], manifest["features"]["scenes"]
        else:
            manifest["features"]["kinds"] = 0.0

    return corpus_variant(src, into, edit)


def test_dogs_of_breeds_the_corpus_lacks_call_up_the_dog_segment_more(tmp_path: Path,
                                                                      embedder) -> None:
    """world's dogs are German shepherds, a Dobermann, retrievers and a boxer; the
    development set's dogs read as schipperke, Staffordshire terrier, malamute, samoyed.
    With the kind part each of them puts more on the dog segment, and for most of them the
    dog segment leads (some of world's horse photos read as big dogs to the network)."""
    src = resolve_corpus("world", embedder)
    with_kinds = Matcher(load_corpus(src))
    without = Matcher(load_corpus(_without_kinds(src, tmp_path / "world")))
    photos = sorted((Path(__file__).parent.parent / "corpora/dev").glob("dev_farm_dog_*.jpg"))
    assert len(photos) >= 3
    leads = 0
    for photo in photos:
        x = embedder.embed(load_rgb(photo))
        new = with_kinds.segment_masses(with_kinds.probabilities(x))
        old = without.segment_masses(without.probabilities(x))
        assert new["dog"] > old["dog"], (photo.name, new, old)
        leads += max(new, key=new.__getitem__) == "dog"
    assert leads > len(photos) / 2, leads


def test_a_corpus_from_builder_3_still_plays_as_it_was_built(tmp_path: Path,
                                                                   embedder,
                                                                   media: Path) -> None:
    """A corpus from builder 3 has no kind and no scene part in its space; it loads and
    matches on its own space (its calibration was measured there), instead of being
    refused: nearer everywhere, since two parts are missing."""
    src = resolve_corpus("night", embedder)
    corpus = load_corpus(_without_kinds(src, tmp_path / "night", as_builder_3=True))
    assert corpus.features.kinds == 0.0 and corpus.features.scenes == 0.0
    x = embedder.embed_file(media / "night/owl/owl.jpg")
    d_old = Matcher(corpus).distances(x)
    d_new = Matcher(load_corpus(src)).distances(x)
    assert np.all(d_old <= d_new + 1e-9) and np.any(d_old < d_new)
