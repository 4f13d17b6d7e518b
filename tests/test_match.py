"""Matching: distances → p per keyframe → scene masses, on a corpus of real recordings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from test_corpus_support import SCENE_PHOTOS, small_corpus

from appliance.corpus import Matcher, classpart, load_corpus
from appliance.corpus import matcher as matcher_module
from appliance.corpus.kernel import int8_sqnorm, joint_squared
from appliance.corpus.mapping import MappingParams, probabilities
from appliance.corpus.quantize import dequantize_rows, quantize_rows
from appliance.vision.images import load_rgb


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, media, embedder):
    return load_corpus(small_corpus(tmp_path_factory, media, embedder))


@pytest.fixture(scope="module")
def matcher(corpus) -> Matcher:
    return Matcher(corpus)


def _views(rgb: np.ndarray) -> dict[str, np.ndarray]:
    h, w = rgb.shape[:2]
    f = rgb.astype(np.float32)
    return {
        "as is": rgb,
        "darker": np.clip(f * 0.55, 0, 255).astype(np.uint8),
        "brighter": np.clip(f * 1.35 + 15, 0, 255).astype(np.uint8),
        "crop": np.ascontiguousarray(rgb[h // 10 : h - h // 5, w // 5 : w - w // 20]),
        "mirrored": np.ascontiguousarray(rgb[:, ::-1]),
    }


@pytest.mark.parametrize("scene", list(SCENE_PHOTOS))
def test_a_photo_of_a_scene_puts_most_mass_on_it(matcher: Matcher, embedder, media: Path,
                                                  scene: str) -> None:
    for rel in SCENE_PHOTOS[scene]:
        for how, rgb in _views(load_rgb(media / rel)).items():
            masses = matcher.scene_masses(matcher.probabilities(embedder.embed(rgb)))
            best = max(masses, key=masses.get)
            assert best == scene, (rel, how, masses)
            floor = 0.9 if how == "as is" else 0.5
            assert masses[scene] > floor, (rel, how, masses)


def test_segment_mass(matcher: Matcher, embedder, media: Path) -> None:
    p = matcher.probabilities(embedder.embed_file(media / "farm/cow/cow.jpg"))
    seg = matcher.segment_masses(p)
    assert set(seg) == {"cow"} and seg["cow"] > 0.9
    p = matcher.probabilities(embedder.embed_file(media / "forest/forest_path.jpg"))
    assert matcher.segment_masses(p)["cow"] < 0.05


def test_p_is_a_distribution_with_a_floor(matcher: Matcher, corpus, embedder,
                                          media: Path) -> None:
    x = embedder.embed_file(media / "harbour/harbour_city_quay.jpg")
    p = matcher.probabilities(x)
    assert p.dtype == np.float64 and p.shape == (corpus.num_keyframes,)
    assert math.isclose(p.sum(), 1.0, abs_tol=1e-12)
    u = matcher.uniform()
    assert np.all(p >= corpus.matching.floor * u * (1 - 1e-9))  # nothing is ever impossible
    assert math.isclose(sum(matcher.scene_masses(p).values()), 1.0, abs_tol=1e-9)
    # Monotone: the probability per second of audio never rises with distance.
    d = matcher.distances(x)
    density = p / corpus.span_seconds()
    order = np.argsort(d)
    assert np.all(np.diff(density[order]) <= 1e-12)


def test_uniform_is_every_second_alike(matcher: Matcher, corpus) -> None:
    u = matcher.uniform()
    assert math.isclose(u.sum(), 1.0)
    np.testing.assert_allclose(u * corpus.duration_s, corpus.span_seconds())
    masses = matcher.scene_masses(u)
    for name, a, b in corpus.scene_spans():
        assert masses[name] == pytest.approx((b - a) / corpus.duration_s)


def test_unknown_sights_are_not_confident(matcher: Matcher, embedder) -> None:
    rng = np.random.default_rng(1)
    wall = np.clip(200 + rng.normal(0, 5, (300, 400, 1)), 0, 255).repeat(3, -1).astype(np.uint8)
    noise = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    u_masses = matcher.scene_masses(matcher.uniform())
    for img in (wall, noise):
        masses = matcher.scene_masses(matcher.probabilities(embedder.embed(img)))
        # Relaxed to (nearly) the uniform distribution, not a confident nearest scene.
        assert max(masses.values()) < max(u_masses.values()) + 0.1, masses


def test_accepts_an_embedding_with_feature_map(matcher: Matcher, embedder, media: Path) -> None:
    rgb = load_rgb(media / "rain/rain_drops_on_leaves.jpg")
    np.testing.assert_allclose(matcher.probabilities(embedder.embed_full(rgb)),
                               matcher.probabilities(embedder.embed(rgb)), atol=1e-6)


def test_int8_kernel_path_equals_the_dense_path(corpus, embedder, media: Path,
                                                monkeypatch) -> None:
    dense = Matcher(corpus)
    monkeypatch.setattr(matcher_module, "DENSE_MAX", 0)
    big = Matcher(corpus)
    assert dense.dense and not big.dense
    x = embedder.embed_file(media / "forest/forest_mossy_log.jpg")
    np.testing.assert_allclose(big.distances(x), dense.distances(x), atol=1e-4)
    np.testing.assert_allclose(big.probabilities(x), dense.probabilities(x), atol=1e-4)


def test_sqnorm_kernel_matches_numpy() -> None:
    q = np.random.default_rng(0).integers(-127, 128, (300, 2048), dtype=np.int8)
    assert np.array_equal(int8_sqnorm(q), (q.astype(np.int64) ** 2).sum(1))


def test_one_pass_distances_equal_the_parts_summed() -> None:
    """The large-corpus kernel sums the visual, class and kind parts in one pass; it must
    give what the parts give one by one, and the visual part alone without class parts."""
    rng = np.random.default_rng(4)
    k = 500
    q = rng.integers(-127, 128, (k, 2048), dtype=np.int8)
    scales = rng.uniform(0.001, 0.01, k)
    rows = q.astype(np.float64) * scales[:, None]
    sqnorm = (rows**2).sum(1)
    x = np.abs(rng.normal(size=2048)).astype(np.float32)
    visual = np.maximum((x.astype(np.float64) ** 2).sum() + sqnorm - 2 * rows @ x, 0.0)
    out = np.empty(k)
    np.testing.assert_allclose(joint_squared(q, scales, sqnorm, x, None, None, out), visual,
                               rtol=1e-4, atol=1e-4)
    post = rng.dirichlet(np.full(1000, 0.05), k + 1)
    idx = np.argsort(-post[:k], axis=1)[:, :classpart.CLASS_TOP].astype(np.int16)
    kept = np.take_along_axis(post[:k], idx.astype(np.int64), axis=1)
    sq = np.rint(np.sqrt(kept / kept.sum(1, keepdims=True)) * 255).astype(np.uint8)
    kinds, roots = classpart.keyframe_kinds(idx, sq)
    frame = post[k]
    want = (visual + 0.25 * classpart.squared_distances(np.sqrt(frame), idx, sq)
            + 0.49 * classpart.squared_distances(classpart.frame_kinds(frame), kinds, roots))
    got = joint_squared(q, scales, sqnorm, x, (idx, sq, np.sqrt(frame), 0.5),
                        (kinds, roots, classpart.frame_kinds(frame), 0.7), out)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_quantization_keeps_distances() -> None:
    rng = np.random.default_rng(3)
    x = np.abs(rng.normal(size=(50, 2048))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q, s = quantize_rows(x)
    assert q.dtype == np.int8 and s.dtype == np.float32
    y = dequantize_rows(q, s)
    d_true = np.linalg.norm(x[0] - x[1:], axis=1)
    d_q = np.linalg.norm(x[0] - y[1:], axis=1)
    assert np.max(np.abs(d_true - d_q) / d_true) < 0.01


def test_mapping_relaxes_far_frames() -> None:
    u = np.array([0.25, 0.25, 0.5])
    params = MappingParams(tau=0.02, floor=0.01, d_near=0.8, d_far=0.9)
    near = probabilities(np.array([0.5, 0.9, 1.0]), u, params)
    assert near[0] > 0.98
    far = probabilities(np.array([0.95, 0.96, 1.0]), u, params)
    np.testing.assert_allclose(far, u)
    half = probabilities(np.array([0.85, 1.2, 1.2]), u, params)
    assert half[0] == pytest.approx(0.99 * (0.5 + 0.5 * 0.25) + 0.01 * 0.25, rel=1e-3)


def test_match_cli_json(corpus, media: Path, capsys) -> None:
    from appliance.cli import main

    images = [media / "farm/cow/cow.jpg", media / "forest/forest_path.jpg"]
    assert main(["match", "--corpus", str(corpus.path), *map(str, images), "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert set(first) == {"image", "scenes", "segments", "background", "top"}
    assert 0.0 <= first["background"] < 0.05  # a corpus photo is not an ordinary place
    assert first["image"] == str(images[0])
    assert math.isclose(sum(first["scenes"].values()), 1.0, abs_tol=1e-4)
    assert max(first["scenes"], key=first["scenes"].get) == "farm"
    assert first["segments"]["cow"] > 0.9
    top = first["top"][0]
    assert set(top) == {"time", "scene", "distance", "p"} and top["scene"] == "farm"
    assert json.loads(lines[1])["segments"]["cow"] < 0.05


def test_match_cli_human(corpus, media: Path, capsys) -> None:
    from appliance.cli import main

    photo = media / "rain/rain_storm_clouds_sea.jpg"
    assert main(["match", "--corpus", str(corpus.path), str(photo)]) == 0
    out = capsys.readouterr().out
    assert "rain" in out and "top keyframes" in out


def test_match_cli_errors_are_messages(tmp_path: Path, media: Path, capsys) -> None:
    from appliance.cli import main

    assert main(["match", "--corpus", "no-such-corpus", str(media / "farm/cow/cow.jpg")]) == 2
    err = capsys.readouterr().err
    assert "no corpus 'no-such-corpus'" in err and "world" in err and "Traceback" not in err
    assert main(["corpus", "build", str(tmp_path / "missing.toml"), "-o",
                 str(tmp_path / "c")]) == 2
    assert "not found" in capsys.readouterr().err


def test_int8_kernel_is_safe_from_two_threads_at_once() -> None:
    """The parallel kernel may be called from the vision thread and another one at once.
    Numba's fallback threading layer (workqueue, used where neither OpenMP nor TBB is
    installed) aborts the whole process when entered twice at once: forced here."""
    import os
    import subprocess
    import sys

    code = """
import threading
import numpy as np
from appliance.corpus.kernel import joint_squared
rng = np.random.default_rng(5)
q = rng.integers(-127, 128, (6000, 2048), dtype=np.int8)
scales = np.full(6000, 0.01)
sqnorm = ((q * 0.01) ** 2).sum(1)
xs = [rng.standard_normal(2048).astype(np.float32) for _ in range(2)]
want = [((q * 0.01 - x) ** 2).sum(1) for x in xs]
errors = []
def work(i):
    out = np.empty(6000)
    for _ in range(20):
        d2 = joint_squared(q, scales, sqnorm, xs[i], None, None, out)
        errors.append(float(np.abs(d2 - want[i]).max()))
threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
for t in threads: t.start()
for t in threads: t.join()
import numba
print(numba.threading_layer(), len(errors), max(errors))
"""
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    layer, count, worst = proc.stdout.split()
    assert layer == "workqueue" and count == "40" and float(worst) < 1e-2
