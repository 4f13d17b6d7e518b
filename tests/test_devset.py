"""The development-set figures (appliance/bench/devset.py) read what the matcher does."""

from __future__ import annotations

import pytest

from appliance import CORPORA_DIR
from appliance.bench import devset
from appliance.corpus import Matcher, load_corpus, resolve_corpus
from appliance.tomlcompat import tomllib


@pytest.fixture(scope="module")
def world(embedder) -> Matcher:
    return Matcher(load_corpus(resolve_corpus("world", embedder)))


def test_the_corpus_own_photos_are_right_trusted_or_not(world: Matcher, embedder) -> None:
    """A corpus photo, labelled with its own scene, is right both ways: through the whole
    mapping and through the kernel alone (dev_right_scene_trusted), and so is an animal's
    segment."""
    manifest = tomllib.loads((CORPORA_DIR / "world.toml").read_text())
    photos = [devset.DevPhoto(CORPORA_DIR / scene["photos"][0], scene["name"], "")
              for scene in manifest["scene"]]
    photos += [devset.DevPhoto(CORPORA_DIR / seg["photos"][0], scene["name"], seg["label"])
               for scene in manifest["scene"] for seg in scene.get("segment", [])]
    results = devset.evaluate(world, embedder, photos)
    assert [r.top_scene for r in results] == [p.scene for p in photos]
    assert [r.trusted_scene for r in results] == [p.scene for p in photos]
    animals = [(r, p) for r, p in zip(results, photos, strict=True) if p.segment]
    assert len(animals) >= 8
    assert [r.trusted_segment for r, _ in animals] == [p.segment for _, p in animals]
    # figures() needs none photos too: one indoors and one outdoors.
    none = [next(p for p in devset.read_dev_set() if p.setting == setting)
            for setting in devset.SETTINGS]
    figs = devset.figures(results + devset.evaluate(world, embedder, none))
    assert figs["dev_right_scene"] == figs["dev_right_scene_trusted"] == 1.0
    assert figs["dev_segment"] == figs["dev_segment_trusted"] == 1.0
