"""The scene part of the matching space: the corpus' own scene labels, used honestly.

It may move a frame towards a scene, never reorder the keyframes of one
scene, and never make an unknown sight sound sure.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_corpus_support import corpus_variant

from appliance.bench.devset import read_dev_set
from appliance.corpus import Matcher, discriminant, load_corpus, resolve_corpus
from appliance.errors import CorpusError
from appliance.vision.images import load_rgb


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_the_axis_between_two_scenes_is_the_direction_that_tells_them_apart() -> None:
    """Two scenes that differ along one direction and vary widely along others: the one
    axis finds that direction, not the directions of large within-scene spread."""
    rng = np.random.default_rng(4)
    dim, n = 64, 40
    apart = np.zeros(dim)
    apart[0] = 1.0
    noise = rng.normal(0, 1, (2 * n, dim)) * np.r_[0.05, np.full(dim - 1, 0.3)]
    x = noise + np.r_[np.zeros(n), np.ones(n)][:, None] * apart * 0.5
    labels = np.r_[np.zeros(n, int), np.ones(n, int)]
    fitted = discriminant.fit(x.astype(np.float32), labels)
    assert fitted is not None
    axes, centres = fitted
    assert axes.shape == (dim, 1) and centres.shape == (2, 1)
    direction = _unit(axes[:, 0])
    assert abs(direction[0]) > 0.8, direction[:4]  # a random direction: about 0.12
    # At most 1 within a scene along the axis (1 under the shrunk scatter), and the two
    # scenes lie many such spreads apart.
    z = x @ axes
    spread = float(np.std(z[:n]))
    assert 0 < spread <= 1.05
    assert abs(float(centres[1, 0] - centres[0, 0])) > 4 * spread


def _gram_min_eigenvalue(d2: np.ndarray) -> float:
    """Smallest eigenvalue of −½·J·D²·J: ≥ 0 (to rounding) exactly when the squared
    distances D² are those of points in a euclidean space (Schoenberg, Young–Householder)."""
    n = len(d2)
    j = np.eye(n) - 1.0 / n
    return float(np.linalg.eigvalsh(-0.5 * j @ d2 @ j).min())


def test_the_compressed_scene_pull_keeps_the_space_euclidean() -> None:
    """c·ln(1 + t/c) of squared euclidean distances is again a squared euclidean distance
    (a Bernstein function: discriminant.py), for near and far points alike; a capped
    pull min(t, c), as plausible a compression, is not one, which the check sees."""
    rng = np.random.default_rng(7)
    z = rng.normal(0, 1, (40, 6)) * rng.uniform(0.3, 6, (40, 1))  # t from ~5 to ~260
    t = ((z[:, None] - z[None]) ** 2).sum(axis=-1)
    c = discriminant.COMPRESSION
    compressed = discriminant.compress(t, c)
    assert _gram_min_eigenvalue(t) > -1e-9
    assert _gram_min_eigenvalue(compressed) > -1e-9
    assert _gram_min_eigenvalue(np.minimum(t, c)) < -0.1


def test_the_compressed_pull_keeps_near_terms_and_the_order_of_scenes() -> None:
    """Near a scene's centre the term is as before; far from every centre it grows only
    logarithmically; a nearer centre always keeps the smaller term. c = 0 (the corpora
    of older builders) leaves the terms as they are."""
    c = discriminant.COMPRESSION
    t = np.array([0.0, 0.01, 0.1, 1.0, 24.0, 85.0, 400.0, 1e4])
    out = discriminant.compress(t, c)
    assert np.all(np.diff(out) > 0) and np.all(out <= t)
    np.testing.assert_allclose(out[:3], t[:3], rtol=0.01)
    assert out[-1] < 0.01 * t[-1]
    np.testing.assert_array_equal(discriminant.compress(t, 0.0), t)


def test_one_scene_has_nothing_to_tell_apart() -> None:
    x = np.random.default_rng(1).normal(size=(10, 8)).astype(np.float32)
    assert discriminant.fit(x, np.zeros(10, int)) is None


def test_scenes_of_one_photo_each_give_no_scene_part() -> None:
    """Nothing says how much a scene varies: no axes (they would be arbitrarily long)."""
    x = np.random.default_rng(2).normal(size=(5, 16)).astype(np.float32)
    assert discriminant.fit(x, np.arange(5)) is None
    assert discriminant.fit(np.repeat(x, 3, axis=0), np.repeat(np.arange(5), 3)) is None


def test_a_corpus_of_one_scene_is_built_without_a_scene_part(tmp_path: Path, embedder,
                                                           media: Path) -> None:
    import shutil

    from appliance.corpus.builder import build_corpus

    manifest = tmp_path / "one.toml"
    (tmp_path / "m" / "harbour").mkdir(parents=True)
    for name in ("harbour_gulls_water.ogg", "harbour_city_quay.jpg",
                 "harbour_boats_evening.jpg"):
        shutil.copy(media / "harbour" / name, tmp_path / "m" / "harbour" / name)
    manifest.write_text('[[scene]]\nname = "harbour"\n'
                        'audio = ["m/harbour/harbour_gulls_water.ogg"]\n'
                        'photos = ["m/harbour/harbour_city_quay.jpg", '
                        '"m/harbour/harbour_boats_evening.jpg"]\n')
    out = tmp_path / "one"
    build_corpus(manifest, out, embedder)
    corpus = load_corpus(out)
    assert corpus.features.scenes == 0.0 and corpus.scene_axes is None
    assert not (out / "scene_axes.npy").exists()


@pytest.fixture(scope="module")
def world_pair(embedder, tmp_path_factory) -> tuple[Matcher, Matcher]:
    src = resolve_corpus("world", embedder)
    plain = corpus_variant(src, tmp_path_factory.mktemp("plain") / "world",
                           lambda m: m["features"].update(scenes=0.0))
    return Matcher(load_corpus(src)), Matcher(load_corpus(plain))


def test_within_a_scene_the_keyframes_keep_their_order(world_pair, embedder) -> None:
    """The scene part adds one term per scene: which keyframe of a scene is nearest (and
    so which of its segments, and what plays within it) is the other parts' choice."""
    with_part, plain = world_pair
    scenes = np.asarray(with_part.corpus.scenes)
    for photo in read_dev_set()[::7]:
        x = embedder.embed(load_rgb(photo.path))
        d_new, d_old = with_part.distances(x), plain.distances(x)
        for scene in set(scenes):
            inside = scenes == scene
            assert np.all(d_new[inside] >= d_old[inside] - 1e-9)
            np.testing.assert_array_equal(np.argsort(d_new[inside], kind="stable"),
                                          np.argsort(d_old[inside], kind="stable"))
            spread = d_new[inside] ** 2 - d_old[inside] ** 2
            np.testing.assert_allclose(spread, spread[0], atol=1e-6)


@pytest.fixture(scope="module")
def world_builder_8(embedder, tmp_path_factory) -> Matcher:
    """``world`` as builder 8 stored it: no ``scene_compression`` in its features."""

    def as_builder_8(m: dict) -> None:
        del m["features"]["scene_compression"]
        m["build"]["builder"] = 8

    return Matcher(load_corpus(corpus_variant(resolve_corpus("world", embedder),
                                              tmp_path_factory.mktemp("b8") / "world",
                                              as_builder_8)))


def test_a_corpus_of_builder_8_keeps_its_uncompressed_scene_part(world_pair, world_builder_8,
                                                                   embedder) -> None:
    """A corpus built before the compressed pull (no ``scene_compression`` in its
    features) is matched in the space it was built in: the plain scene term; today's
    corpora carry c and are matched with the compressed one."""
    with_part, plain = world_pair
    old = world_builder_8
    assert with_part.features.scene_compression == discriminant.COMPRESSION > 0
    assert old.features.scene_compression == 0.0
    w, idx = with_part.features.scenes, with_part._scene_idx
    for photo in read_dev_set()[::29]:
        x = embedder.embed(load_rgb(photo.path))
        v = with_part.transform(x)
        t = discriminant.squared_terms(v, with_part._scene_axes, with_part._scene_centres)
        base = plain.distances(x) ** 2
        np.testing.assert_allclose(old.distances(x) ** 2, base + w**2 * t[idx], rtol=1e-6)
        np.testing.assert_allclose(
            with_part.distances(x) ** 2,
            base + w**2 * discriminant.compress(t, discriminant.COMPRESSION)[idx], rtol=1e-6)


def test_the_compression_changes_what_a_view_calls_up_not_its_pull_of_ordinary_places(
        world_pair, world_builder_8, embedder) -> None:
    """The background's ratio test reads the space it was measured in, the scene part
    uncompressed: a frame is as near to ordinary places, against the corpus, as before
    (the compression alone would take the background's distance away from unknown
    sights: corpora/README.md, "Seventeenth round"), while the scenes it calls up move."""
    new, old = world_pair[0], world_builder_8
    moved = 0
    for photo in read_dev_set()[::9]:
        x = embedder.embed(load_rgb(photo.path))
        d_new, d_old = new.distances(x), old.distances(x)
        assert new.background_share(x, d_new) == pytest.approx(
            old.background_share(x, d_old), abs=1e-9)
        # The same without the cached frame (another array of the same distances).
        assert new.background_share(x, d_new.copy()) == pytest.approx(
            old.background_share(x, d_old), abs=1e-9)
        moved += not np.allclose(new.scene_masses(new.probabilities(x)).get(photo.scene, 0),
                                 old.scene_masses(old.probabilities(x)).get(photo.scene, 0),
                                 atol=1e-3)
    assert moved > 0


@pytest.mark.parametrize("value", [-1.0, "10", True, float("nan")])
def test_a_bad_scene_compression_is_refused_naming_the_key_and_file(
        value, embedder, tmp_path: Path) -> None:
    src = resolve_corpus("woods_and_water", embedder)
    bad = corpus_variant(src, tmp_path / "woods_and_water",
                         lambda m: m["features"].update(scene_compression=value))
    with pytest.raises(CorpusError, match=r"scene_compression") as err:
        load_corpus(bad)
    assert str(bad) in str(err.value)


def test_the_unknown_sight_distance_is_read_without_the_scene_part(world_pair,
                                                                   embedder) -> None:
    """D_NEAR/D_FAR were measured in the fixed parts of the space: the distance confidence
    must read the frame's nearest distance there, not the one the scene part lengthened
    (which would relax known views towards "somewhere" by how far their scene's centre
    is)."""
    from appliance.corpus.mapping import probabilities

    with_part, plain = world_pair
    u = with_part.uniform()
    differs = 0
    for photo in read_dev_set()[::5]:
        x = embedder.embed(load_rgb(photo.path))
        d = with_part.distances(x)
        nearest = float(plain.distances(x).min())
        kc = with_part.known_confidence(x, d)
        expected = probabilities(d, u, with_part.params, kc, nearest=nearest)
        np.testing.assert_allclose(with_part.probabilities(x), expected, atol=1e-12)
        naive = probabilities(d, u, with_part.params, kc)
        differs += not np.allclose(naive, expected, atol=1e-6)
    assert differs > 0  # some photos lie in the ramp, where reading the wrong one shows


def test_damaged_scene_axes_are_refused_naming_the_file(tmp_path: Path, embedder) -> None:
    from appliance.corpus.fileformat import crc32

    src = resolve_corpus("woods_and_water", embedder)  # four scenes: three axes
    axes = np.load(src / "scene_axes.npy")
    axes[0, 0] = np.nan
    bad = corpus_variant(src, tmp_path / "woods_and_water",
                         lambda m: m["crc32"].update({"scene_axes.npy": crc32(axes)}),
                         leave_out=("scene_axes.npy",))
    np.save(bad / "scene_axes.npy", axes)
    with pytest.raises(CorpusError, match=r"scene_axes\.npy"):
        load_corpus(bad)
