"""The corpus library: demo corpora built on first use, kept fresh, found by name."""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from pathlib import Path

import pytest
from PIL import Image
from test_corpus_support import SMALL_MANIFEST, make_small_source, small_corpus

from appliance.corpus import Matcher, ensure_demo_corpora, library, load_corpus, resolve_corpus
from appliance.corpus.library import cache_dir, is_fresh
from appliance.corpus.model_id import model_sha256
from appliance.errors import CorpusError


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("SOUNDSCAPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SOUNDSCAPE_CORPORA", raising=False)
    return tmp_path / "cache" / "corpora"


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SOUNDSCAPE_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path / "corpora"
    monkeypatch.delenv("SOUNDSCAPE_CACHE")
    monkeypatch.delenv("CACHE_DIRECTORY", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "soundscape" / "corpora"


def test_world_holds_every_scene_with_its_labels(cache: Path, media: Path, embedder) -> None:
    world_dir = resolve_corpus("world", embedder)
    assert world_dir == cache / "world"
    world = load_corpus(world_dir, model_sha256(embedder.model_path))
    reference = tomllib.loads((media / "scenes.toml").read_text())["scene"]
    assert world.scene_names == [s["name"] for s in reference]
    photos = {s["name"]: set(s["photos"]) | {p for g in s.get("segment", []) for p in g["photos"]}
              for s in reference}
    # Every photo three times: as it is, mirrored and closer up (builder.DEFAULT_VARIANTS).
    assert world.num_keyframes == 3 * sum(len(v) for v in photos.values())
    assert set(world.variants) == {"", "flip", "zoom"}
    seg_of = {p: g["label"] for s in reference for g in s.get("segment", []) for p in g["photos"]}
    for scene, segment, origin in zip(world.scenes, world.segments, world.origins, strict=True):
        rel = origin.removeprefix("media/")
        assert rel in photos[scene]
        assert segment == seg_of.get(rel, "")
    assert set(world.segment_labels) == {"owl", "cow", "chicken", "horse", "pig", "sheep",
                                         "duck", "dog", "cat"}
    for name, a, b in world.scene_spans():
        want = next(s["audio_seconds"] for s in reference if s["name"] == name)
        assert b - a == pytest.approx(want, abs=1.0)
    assert "CC" in world.credits and world.spoken_name == "world"
    m = Matcher(world)
    masses = m.scene_masses(m.probabilities(embedder.embed_file(media / "night/owl/owl.jpg")))
    assert max(masses, key=masses.get) == "night"
    assert m.segment_masses(m.probabilities(embedder.embed_file(media / "night/owl/owl.jpg")))[
        "owl"] > 0.5


def test_demo_library_builds_once_and_rebuilds_when_stale(cache: Path, embedder) -> None:
    first = ensure_demo_corpora(embedder, ["harbour"], quiet=True)
    assert first == [cache / "harbour"]
    stamp = (cache / "harbour" / "corpus.json").stat().st_mtime_ns
    assert ensure_demo_corpora(embedder, ["harbour"], quiet=True) == first
    assert (cache / "harbour" / "corpus.json").stat().st_mtime_ns == stamp  # not rebuilt
    manifest = Path(load_corpus(first[0]).source["path"])
    sha = model_sha256(embedder.model_path)
    assert is_fresh(first[0], manifest, sha)
    assert not is_fresh(first[0], manifest, "0" * 64)  # another model: rebuild
    names = list(library())
    assert names[:5] == ["world", "woods_and_water", "night", "farm", "harbour"]
    with pytest.raises(CorpusError, match="no demo corpus named nope"):
        ensure_demo_corpora(embedder, ["nope"])


def test_changed_source_rebuilds(tmp_path: Path, cache: Path, media: Path, embedder) -> None:
    root = tmp_path / "themes"
    make_small_source(root, media, SMALL_MANIFEST.replace('name = "small"', 'name = "tiny"'))
    (root / "small.toml").rename(root / "tiny.toml")
    [built] = ensure_demo_corpora(embedder, quiet=True, root=root)
    manifest = root / "tiny.toml"
    sha = model_sha256(embedder.model_path)
    assert is_fresh(built, manifest, sha)
    photo = root / "media/harbour/harbour_city_quay.jpg"
    with Image.open(photo) as im:
        im.convert("RGB").save(photo, quality=60)
    assert not is_fresh(built, manifest, sha)
    before = json.loads((built / "corpus.json").read_text())["source"]["fingerprint"]
    ensure_demo_corpora(embedder, quiet=True, root=root)
    after = json.loads((built / "corpus.json").read_text())["source"]["fingerprint"]
    assert before != after and is_fresh(built, manifest, sha)


def test_user_corpora_and_resolving(tmp_path_factory, tmp_path: Path, cache: Path,
                                    media: Path, embedder, monkeypatch) -> None:
    small = small_corpus(tmp_path_factory, media, embedder)
    users = tmp_path / "mine"
    users.mkdir()
    shutil.copytree(small, users / "garden")
    (users / "not-a-corpus").mkdir()
    monkeypatch.setenv("SOUNDSCAPE_CORPORA", str(users))
    lib = library()
    assert lib["garden"] == users / "garden" and "not-a-corpus" not in lib
    assert resolve_corpus("garden") == users / "garden"
    assert resolve_corpus(str(small)) == small
    with pytest.raises(CorpusError, match="not a corpus"):
        resolve_corpus(str(users / "not-a-corpus"))
    with pytest.raises(CorpusError, match=r"no corpus 'nowhere'.*garden"):
        resolve_corpus("nowhere")
    assert not os.listdir(cache) if cache.exists() else True
