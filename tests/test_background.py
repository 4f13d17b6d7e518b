"""The background: a frame of an ordinary place the corpus has no sound for sounds like
"somewhere", and no corpus photo is taken for one (appliance/corpus/background.py)."""

from __future__ import annotations

import json
import logging
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from test_corpus_support import corpus_variant

from appliance import CORPORA_DIR
from appliance.bench.devset import read_dev_set
from appliance.corpus import Matcher, background, load_corpus, resolve_corpus
from appliance.corpus.model_id import cached_file_sha256
from appliance.errors import CorpusError
from appliance.vision.images import load_rgb


@pytest.fixture(scope="module")
def world(embedder) -> Matcher:
    return Matcher(load_corpus(resolve_corpus("world", embedder)))


def _new_view(rgb: np.ndarray) -> np.ndarray:
    """Darker and off-centre: no stored variant of the photo looks like this."""
    h, w = rgb.shape[:2]
    crop = rgb[h // 8 : h - h // 10, w // 10 : w - w // 6].astype(np.float32)
    return np.clip(crop * 0.7, 0, 255).astype(np.uint8)


def test_every_demo_corpus_carries_the_background(world: Matcher) -> None:
    rows = world.corpus.background_embeddings
    assert world.has_background and rows is not None
    assert 0 < len(rows) <= len(background.photo_files()) * len(background.VARIANTS)


def test_a_new_view_of_an_ordinary_place_sounds_like_somewhere(world: Matcher,
                                                               embedder) -> None:
    """Most background photos, seen anew (darker, off-centre), are judged ordinary places
    and give (close to) the time-uniform p; the rest were left out of this corpus because
    they are as near to its own keyframes as a view of its places would be."""
    u = world.uniform()
    judged = []
    for photo in background.photo_files()[::4]:
        x = embedder.embed(_new_view(load_rgb(photo)))
        d = world.distances(x)
        b = world.background_share(x, d)
        if b > 0.5:
            p = world.probabilities(x)
            # p − u = c·(1 − ε)·(s − u) with c ≤ 1 − b: the background bounds how sure p is.
            assert 0.5 * float(np.abs(p - u).sum()) <= (1 - b) + 1e-9, photo.name
        judged.append(b > 0.5)
    assert sum(judged) >= 0.5 * len(judged), judged


def test_a_corpus_keeps_its_own_places_out_of_its_background(tmp_path: Path, embedder,
                                                             media: Path,
                                                             monkeypatch) -> None:
    """A background photo that shows one of the corpus' own places (here a darker copy of
    one of its photos) is left out of that corpus: its views stay the corpus' own."""
    from test_corpus_support import make_small_source

    from appliance.corpus import build_corpus

    own = media / "farm/cow/cow.jpg"
    folder = tmp_path / "background"
    folder.mkdir()
    rgb = load_rgb(own).astype(np.float32)
    from PIL import Image

    Image.fromarray(np.clip(rgb * 0.8, 0, 255).astype(np.uint8)).save(folder / "bg_cow.jpg")
    for name in ("bg_indoors_alarm_clock_on_table.jpg", "bg_indoors_stack_of_old_books.jpg"):
        shutil.copy2(background.BACKGROUND_DIR / name, folder / name)
    monkeypatch.setattr(background, "BACKGROUND_DIR", folder)
    source = make_small_source(tmp_path / "src", media)
    corpus = load_corpus(build_corpus(source, tmp_path / "small", embedder).path)
    assert corpus.background_embeddings is not None
    assert len(corpus.background_embeddings) == 2 * len(background.VARIANTS)
    m = Matcher(corpus)
    x = embedder.embed(load_rgb(own))
    assert m.background_share(x, m.distances(x)) < 0.01
    assert m.scene_masses(m.probabilities(x))["farm"] > 0.8


def test_no_corpus_photo_is_taken_for_the_background(world: Matcher, embedder) -> None:
    """Each of the world corpus' own photos, as a camera would see it again, still calls
    up its own scene: the background takes at most a sliver of its belief."""
    manifest = tomllib.loads((CORPORA_DIR / "world.toml").read_text(encoding="utf-8"))
    worst = []
    for scene in manifest["scene"]:
        photos = list(scene.get("photos", []))
        for seg in scene.get("segment", []):
            photos += seg.get("photos", [])
        for rel in photos[::2]:
            x = embedder.embed(load_rgb(CORPORA_DIR / rel))
            d = world.distances(x)
            worst.append((world.background_share(x, d), rel))
    assert max(worst)[0] < 0.2, sorted(worst)[-3:]


def test_no_background_photo_is_a_corpus_or_development_photo() -> None:
    own = {cached_file_sha256(p) for p in background.photo_files()}
    corpus = {cached_file_sha256(p) for p in (CORPORA_DIR / "media").rglob("*.jpg")}
    dev = {cached_file_sha256(p.path) for p in read_dev_set()}
    assert len(own) == len(background.photo_files()) >= 60
    assert not own & corpus and not own & dev


def test_every_background_photo_has_a_credits_row() -> None:
    text = (background.BACKGROUND_DIR / "CREDITS.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip() for line in text.splitlines()
            if line.startswith("| bg_")}
    assert rows == {p.name for p in background.photo_files()}


def test_the_stored_vectors_are_this_models(embedder, caplog) -> None:
    """The shipped vectors.npy was made from these photos with this model: a build uses it
    as is (no warning), and embedding a photo again gives its rows."""
    with caplog.at_level(logging.WARNING, logger="appliance.corpus.background"):
        bg = background.load_background(embedder)
    assert bg is not None and not caplog.records, caplog.text
    first = background.photo_files()[0]
    again = background.embed_photos(embedder, [first])
    np.testing.assert_allclose(bg[: len(background.VARIANTS)], again,
                               rtol=0, atol=2e-3 * float(np.abs(again).max()))


def test_stale_vectors_are_embedded_again_with_a_warning(tmp_path: Path, embedder,
                                                         caplog) -> None:
    photos = background.photo_files()[:2]
    for p in photos:
        shutil.copy2(p, tmp_path / p.name)
    for name in (background.VECTORS, background.INDEX):
        shutil.copy2(background.BACKGROUND_DIR / name, tmp_path / name)
    with caplog.at_level(logging.WARNING, logger="appliance.corpus.background"):
        bg = background.load_background(embedder, tmp_path)
    assert bg is not None and bg.shape == (2 * len(background.VARIANTS), 2048)
    assert "build_background.py" in caplog.text
    # Stored again, they are used as they are.
    assert background.write_vectors(embedder, tmp_path) == 2 * len(background.VARIANTS)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="appliance.corpus.background"):
        again = background.load_background(embedder, tmp_path)
    assert again is not None and not caplog.records
    np.testing.assert_allclose(again, bg, atol=2e-3 * float(bg.max()))
    assert not list(tmp_path.glob(".vectors*"))  # no temporary file left behind


def test_a_damaged_background_is_a_clear_corpus_error(tmp_path: Path, embedder) -> None:
    src = resolve_corpus("night", embedder)
    missing = corpus_variant(src, tmp_path / "a", leave_out=("background_scales.npy",))
    with pytest.raises(CorpusError, match=r"background_scales\.npy is missing"):
        load_corpus(missing)
    flipped = corpus_variant(src, tmp_path / "b", leave_out=("background.npy",))
    rows = np.load(src / "background.npy").copy()
    rows[3, 7] ^= 1
    np.save(flipped / "background.npy", rows)
    with pytest.raises(CorpusError, match=r"background\.npy does not match its checksum"):
        load_corpus(flipped)
    bad_share = corpus_variant(src, tmp_path / "c",
                               lambda m: m["background"].update(share=float("inf")))
    with pytest.raises(CorpusError, match="share"):
        load_corpus(bad_share)


def test_a_corpus_built_without_the_background_plays_as_before(tmp_path: Path, embedder,
                                                               media: Path) -> None:
    """Builder 7 corpora have no background: they load and match by the rule they were
    built with."""
    src = resolve_corpus("world", embedder)

    def older(m: dict) -> None:
        m.pop("background")
        m["build"]["builder"] = 7

    old = Matcher(load_corpus(corpus_variant(src, tmp_path / "w", older)))
    new = Matcher(load_corpus(src))
    assert not old.has_background
    x = embedder.embed(load_rgb(media / "farm/cow/cow.jpg"))
    d = old.distances(x)
    assert old.background_share(x, d) == 0.0
    assert old.scene_masses(old.probabilities(x))["farm"] > 0.8
    assert json.loads((src / "corpus.json").read_text())["background"]["rows"] == len(
        new.corpus.background_embeddings)
