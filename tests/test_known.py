"""Unknown sights: the network's own ImageNet classes tell a couch from a meadow.

A new view of no known kind of place must sound like "somewhere" (p near the
corpus' time-uniform p), while a corpus' own places stay near-certain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_corpus_support import corpus_variant

from appliance.bench.devset import read_dev_set
from appliance.corpus import Matcher, load_corpus, resolve_corpus
from appliance.corpus import known as known_rule
from appliance.corpus.known import class_support, known_confidence, knownness
from appliance.corpus.mapping import MappingParams, probabilities
from appliance.errors import CorpusError, ModelError
from appliance.vision.classes import ClassHead, class_head
from appliance.vision.images import load_rgb


@pytest.fixture(scope="module")
def head() -> ClassHead:
    return class_head()


@pytest.fixture(scope="module")
def world(embedder) -> Matcher:
    return Matcher(load_corpus(resolve_corpus("world", embedder)))


def test_the_head_names_what_the_network_sees(head: ClassHead, embedder, media: Path) -> None:
    hen = head.top(embedder.embed_file(media / "farm/chicken/chicken.jpg"), 1)[0]
    ox = head.top(embedder.embed_file(media / "farm/cow/cow.jpg"), 1)[0]
    assert hen[0] == "hen" and hen[1] > 0.5
    assert ox[0] == "ox"


def test_a_damaged_head_is_a_clear_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "head.npz"
    np.savez(bad, kernel=np.zeros((10, 2048), np.int8), scale=np.ones(10, np.float32),
             bias=np.zeros(10, np.float32), labels=np.array(["x"] * 10))
    with pytest.raises(ModelError, match="wrong layout"):
        ClassHead(bad)
    with pytest.raises(ModelError, match="not found"):
        ClassHead(tmp_path / "missing.npz")


def test_a_keyframe_is_fully_known_and_a_foreign_class_is_not(head: ClassHead, embedder,
                                                               media: Path) -> None:
    pooled = np.stack([embedder.embed_file(media / p) for p in
                       ("farm/chicken/chicken.jpg", "harbour/harbour_old_pier_gulls.jpg")])
    support = class_support(head, pooled)
    own = head.posterior(pooled)
    assert knownness(own[0], support) == pytest.approx(1.0)
    assert knownness(own[1], support) == pytest.approx(1.0)
    # A frame whose whole belief is on a class no keyframe reaches ("studio couch").
    couch = np.zeros(1000)
    couch[list(head.labels).index("studio_couch")] = 1.0
    assert knownness(couch, support) < 0.05
    assert known_confidence(0.0) == 0.0 and known_confidence(1.0) == 1.0


def test_each_scene_has_its_own_class_envelope(head: ClassHead, embedder, media: Path) -> None:
    """A hen is known to a frame that calls up the farm, not to one that calls up the
    harbour: the harbour's pictures show piers and gulls, never a hen."""
    pooled = np.stack([embedder.embed_file(media / p) for p in
                       ("farm/chicken/chicken.jpg", "harbour/harbour_old_pier_gulls.jpg")])
    support = class_support(head, pooled, np.array([0, 1]))
    assert support.shape == (2, 1000)
    hen, pier = head.posterior(pooled)
    assert knownness(hen, support, np.array([1.0, 0.0])) == pytest.approx(1.0)
    assert knownness(pier, support, np.array([0.0, 1.0])) == pytest.approx(1.0)
    assert knownness(hen, support, np.array([0.0, 1.0])) < 0.3
    # In between, the frame's own mixture of scenes decides.
    mixed = knownness(hen, support, np.array([0.5, 0.5]))
    assert knownness(hen, support, np.array([0.0, 1.0])) < mixed < 1.0
    with pytest.raises(ValueError, match="scene weights"):
        knownness(hen, support)


def test_a_corpus_with_one_envelope_plays_by_that_rule(tmp_path: Path, embedder,
                                                        caplog) -> None:
    """Builders 3 to 5 kept one class envelope for the whole corpus; such a corpus loads
    and keeps the rule it was built with (its own ramp in its manifest)."""
    from appliance.corpus.fileformat import crc32

    src = resolve_corpus("world", embedder)
    whole = np.load(src / "class_support.npy").max(axis=0)

    def edit(m: dict) -> None:
        m["build"]["builder"] = 5
        m["crc32"]["class_support.npy"] = crc32(whole)

    old = corpus_variant(src, tmp_path / "world", edit, leave_out=("class_support.npy",))
    np.save(old / "class_support.npy", whole)
    with caplog.at_level("INFO", logger="appliance.corpus.fileformat"):
        matcher = Matcher(load_corpus(old))
    assert "one class envelope for all its scenes" in caplog.text
    assert "soundscape corpus build" in caplog.text  # the command that rebuilds it
    x = embedder.embed(load_rgb(read_dev_set()[0].path))
    d = matcher.distances(x)
    assert matcher.knownness(x, d) == pytest.approx(knownness(matcher.posterior(x), whole))


def test_a_builder_6_corpus_keeps_its_own_ramp(tmp_path: Path, embedder) -> None:
    """Builder 6 judged unknown sights on the ramp 0.2-0.6, without a background; a corpus
    keeps the ramp stored in its manifest, not today's default (only the stored ramp, the
    background and the builder number are rewritten here: they are all that tells the
    rules apart on load)."""
    src = resolve_corpus("world", embedder)

    def edit(m: dict) -> None:
        m["build"]["builder"] = 6
        m["matching"]["known_lo"], m["matching"]["known_hi"] = 0.2, 0.6
        m.pop("background")

    old = Matcher(load_corpus(corpus_variant(src, tmp_path / "world", edit)))
    new = Matcher(load_corpus(src))
    lo, hi = known_rule.KNOWN_LO_BACKGROUND, known_rule.KNOWN_HI_BACKGROUND
    assert (new.params.known_lo, new.params.known_hi) == (lo, hi)
    assert (old.params.known_lo, old.params.known_hi) == (0.2, 0.6)
    # A view the two ramps judge differently: known between 0.2 and 0.6.
    for photo in read_dev_set():
        x = embedder.embed(load_rgb(photo.path))
        d = old.distances(x)
        k = old.knownness(x, d)
        if 0.25 < k < 0.55:
            break
    else:
        pytest.fail("no development photo with a knownness between 0.25 and 0.55")
    assert old.known_confidence(x, d) == pytest.approx((k - 0.2) / 0.4)
    d = new.distances(x)
    ramp = min(1.0, max(0.0, (new.knownness(x, d) - lo) / (hi - lo)))
    assert new.known_confidence(x, d) == pytest.approx(ramp * (1 - new.background_share(x, d)))


def test_a_dog_of_another_breed_is_still_a_known_kind(head: ClassHead, embedder,
                                                      media: Path) -> None:
    """The corpus' dog is a German shepherd; a terrier is a dog too, a couch is not."""
    support = class_support(head, embedder.embed_file(media / "farm/dog/dog.jpg")[None])
    labels = list(head.labels)
    for breed, expected_known in (("Staffordshire_bullterrier", True), ("studio_couch", False),
                                  ("tabby", False)):
        one = np.zeros(1000)
        one[labels.index(breed)] = 1.0
        assert (knownness(one, support) > 0.9) is expected_known, breed


def test_no_known_kind_gives_exactly_the_time_uniform_p() -> None:
    rng = np.random.default_rng(3)
    d = rng.uniform(0.3, 1.0, 40)
    u = rng.uniform(1, 5, 40)
    u /= u.sum()
    params = MappingParams(tau=0.02, floor=0.01, d_near=0.86, d_far=0.95)
    np.testing.assert_allclose(probabilities(d, u, params, known_confidence=0.0), u)
    half = probabilities(d, u, params, known_confidence=0.5)
    full = probabilities(d, u, params, known_confidence=1.0)
    assert np.abs(half - u).sum() < np.abs(full - u).sum()
    # Within a frame, still monotone: nearer never gets less per second of audio.
    for p in (half, full):
        order = np.argsort(d)
        density = (p / u)[order]
        assert np.all(np.diff(density) <= 1e-12)


def test_none_photos_of_the_development_set_sound_like_somewhere(world: Matcher,
                                                                 embedder) -> None:
    """Rooms, objects, people, streets: at least half give (almost) exactly the uniform p."""
    photos = [p for p in read_dev_set() if p.scene == "none"]
    assert len(photos) >= 20
    u = world.uniform()
    tvs = [0.5 * float(np.abs(world.probabilities(embedder.embed(load_rgb(p.path))) - u).sum())
           for p in photos]
    near_uniform = sum(tv < 0.05 for tv in tvs)
    assert near_uniform >= 0.5 * len(photos), sorted(zip(tvs, [p.path.name for p in photos],
                                                          strict=True))


def test_corpus_photos_stay_near_certain(world: Matcher, embedder, media: Path) -> None:
    for rel, scene in (("farm/cow/cow.jpg", "farm"), ("harbour/harbour_city_quay.jpg",
                                                       "harbour"),
                       ("forest/forest_path.jpg", "forest")):
        rgb = load_rgb(media / rel)
        h, w = rgb.shape[:2]
        for view in (rgb, np.ascontiguousarray(rgb[:, ::-1]),
                     np.clip(rgb.astype(np.float32) * 0.6, 0, 255).astype(np.uint8),
                     np.ascontiguousarray(rgb[h // 10 : h - h // 6, w // 8 : w - w // 10])):
            masses = world.scene_masses(world.probabilities(embedder.embed(view)))
            assert masses[scene] > 0.8, (rel, masses)


def test_a_corpus_from_before_the_unknown_sight_check_is_refused(tmp_path: Path,
                                                                  embedder) -> None:
    old = corpus_variant(resolve_corpus("night", embedder), tmp_path / "night",
                         lambda m: m["build"].update(builder=2))
    with pytest.raises(CorpusError, match=r"builder 2.*rebuild with: soundscape corpus build"):
        load_corpus(old)


def test_the_class_support_is_checked_on_load(tmp_path: Path, embedder) -> None:
    src = resolve_corpus("night", embedder)
    bad = corpus_variant(src, tmp_path / "night", leave_out=("class_support.npy",))
    with pytest.raises(CorpusError, match=r"class_support\.npy is missing"):
        load_corpus(bad)
    support = np.load(src / "class_support.npy")
    support = support.copy()
    support[0, 0] = min(1.0, support[0, 0] + 0.25)
    np.save(bad / "class_support.npy", support)
    with pytest.raises(CorpusError, match="checksum"):
        load_corpus(bad)


def test_the_running_pipeline_plays_somewhere_for_a_chateau(tmp_path: Path) -> None:
    """Through the engine's own vision loop (offline render): a chateau, whose nearest
    keyframes are near enough to pass the distance check, calls up the whole corpus
    evenly; a new harbour view calls up the harbour."""
    from appliance import CORPORA_DIR, DEMO_VIEWS
    from appliance.camera.simulated import SlideshowCamera
    from appliance.commands import render
    from appliance.config import Config

    def masses(photo: Path) -> dict[str, float]:
        camera = SlideshowCamera([photo], seconds_per_image=10.0)
        return render(Config.default(), camera, "world", 3.0, tmp_path / "k.wav", 1).scene_masses

    chateau = masses(CORPORA_DIR / "dev" / "dev_none_chateau.jpg")
    assert max(chateau.values()) < 0.3, chateau  # the uniform p: farm's share, 23 %
    harbour = masses(DEMO_VIEWS / "1_harbour_victoria_harbour.jpg")
    assert harbour["harbour"] > 0.8, harbour


def test_no_development_photo_is_a_corpus_photo() -> None:
    """The development set measures new views: none of its photos is a keyframe source."""
    from appliance import CORPORA_DIR
    from appliance.corpus.model_id import cached_file_sha256

    dev = {cached_file_sha256(p.path) for p in read_dev_set()}
    corpus = {cached_file_sha256(p) for p in (CORPORA_DIR / "media").rglob("*.jpg")}
    assert len(dev) == len(read_dev_set()) and not dev & corpus


def test_every_none_photo_names_its_setting(tmp_path: Path) -> None:
    """The benchmark splits unknown sights into rooms and things (the issue's living room and
    cup) and outdoor places: a none photo without a setting is refused, naming the file."""
    assert {p.setting for p in read_dev_set() if p.scene == "none"} == {"indoors", "outdoors"}
    bad = tmp_path / "dev.toml"
    bad.write_text('[[photo]]\nfile = "a_room.jpg"\nscene = "none"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"a_room\.jpg.*setting indoors or outdoors"):
        read_dev_set(bad)
    bad.write_text('[[photo]]\nfile = "a_wood.jpg"\nscene = "forest"\nsetting = "outdoors"\n',
                   encoding="utf-8")
    with pytest.raises(ValueError, match=r"a_wood\.jpg.*needs no setting"):
        read_dev_set(bad)
