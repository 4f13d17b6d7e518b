"""The int8 ResNet50 embedder on real photographs."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from appliance import DEFAULT_MODEL, MODELS_DIR, PROJECT_ROOT
from appliance.errors import ImageError, ModelError
from appliance.vision.embedder import Embedder
from appliance.vision.images import load_rgb, square_resize

DATA = Path(__file__).parent / "data"


def scene_photos(media: Path) -> dict[str, list[Path]]:
    scenes = tomllib.loads((media / "scenes.toml").read_text())["scene"]
    return {s["name"]: [media / p for p in s["photos"]] for s in scenes}


def test_embedding_shape_and_dtype(embedder: Embedder, media: Path) -> None:
    full = embedder.embed_full(load_rgb(media / "farm/cow/cow.jpg"))
    assert full.vector.shape == (2048,) and full.vector.dtype == np.float32
    assert full.feature_map is not None and full.feature_map.shape == (7, 7, 2048)
    # The pooled vector is the mean of the feature map (up to int8 rounding).
    pooled = full.feature_map.mean(axis=(0, 1))
    cos = pooled @ full.vector / (np.linalg.norm(pooled) * np.linalg.norm(full.vector))
    assert cos > 0.99


def test_same_scene_photos_are_nearer(embedder: Embedder, media: Path) -> None:
    """Photos of one kind of place are nearer each other than to other places'.

    Compared as unit vectors (direction only), as the matcher does: raw
    lengths vary with image contrast, which is not what makes a place.
    """
    by_scene = scene_photos(media)
    names, vecs = [], []
    for scene, photos in by_scene.items():
        for p in photos:
            names.append(scene)
            vecs.append(embedder.embed_file(p))
    v = np.stack(vecs)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    labels = np.array(names)
    d = np.linalg.norm(v[:, None] - v[None], axis=-1)
    np.fill_diagonal(d, np.nan)
    for scene in by_scene:
        inside = labels == scene
        intra = np.nanmean(d[np.ix_(inside, inside)])
        inter = np.nanmean(d[np.ix_(inside, ~inside)])
        assert intra < inter, f"{scene}: mean distance inside {intra:.3f} >= to others {inter:.3f}"
    np.fill_diagonal(d, np.inf)
    nearest_same = np.mean(labels[np.argmin(d, axis=1)] == labels)
    chance = sum((labels == s).sum() * ((labels == s).sum() - 1) for s in by_scene) / (
        len(labels) * (len(labels) - 1)
    )
    assert nearest_same > 2 * chance, f"nearest neighbour in same scene {nearest_same:.2f}"


def test_int8_agrees_with_float_reference(embedder: Embedder, media: Path) -> None:
    """The int8 features agree with the float32 Keras model recorded at build time."""
    ref = json.loads((MODELS_DIR / "reference.json").read_text())
    assert ref["photos"], "reference.json lists no photos"
    for photo in ref["photos"]:
        path = media / photo["path"]
        # Same pixels into the network as at build time: the resize policy agrees.
        prepared = embedder.prepare(load_rgb(path))
        assert hashlib.sha256(prepared.tobytes()).hexdigest() == photo["input_sha256"]
        f = np.asarray(photo["embedding_float32"], dtype=np.float32)
        q = embedder.embed_file(path)
        cos = float(q @ f / (np.linalg.norm(q) * np.linalg.norm(f)))
        assert cos > 0.98, f"{path}: int8 vs float cosine {cos:.4f}"
        # The same figure the build measured: the run-time path is the build's path.
        assert abs(cos - photo["cosine_int8_vs_float"]) < 0.005


def test_resize_policy_is_centre_crop(embedder: Embedder) -> None:
    # A wide frame whose centre square is red, with blue bars either side.
    frame = np.zeros((100, 300, 3), np.uint8)
    frame[:, :100, 2] = frame[:, 200:, 2] = 255
    frame[:, 100:200, 0] = 255
    sq = square_resize(frame, embedder.input_size)
    assert sq.shape == (224, 224, 3)
    assert (sq[..., 0] == 255).all() and (sq[..., 2] == 0).all()


def test_missing_model_names_file_and_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"nothere\.tflite.*build_model\.py"):
        Embedder(tmp_path / "nothere.tflite")


def test_corrupt_model_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.tflite"
    bad.write_bytes(DEFAULT_MODEL.read_bytes()[:4096])
    with pytest.raises(ModelError, match=r"corrupt\.tflite.*build_model\.py"):
        Embedder(bad)


def test_wrong_shaped_model_is_refused() -> None:
    with pytest.raises(ModelError, match=r"wrong_shape\.tflite.*(input|uint8)"):
        Embedder(DATA / "wrong_shape.tflite")


def test_bad_images_give_clear_errors(embedder: Embedder, tmp_path: Path) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a jpeg")
    with pytest.raises(ImageError, match=r"junk\.jpg"):
        embedder.embed_file(junk)
    with pytest.raises(ImageError, match="RGB"):
        embedder.embed(np.zeros((10, 10), np.uint8))


def test_cli_error_is_one_line_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[model]\npath = "{tmp_path / "gone.tflite"}"\n')
    proc = subprocess.run(
        [sys.executable, "-m", "appliance", "demo", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "gone.tflite" in proc.stderr and "build_model.py" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_tflite_runtime_214_gives_the_same_vectors(embedder: Embedder, media: Path) -> None:
    """The design card's tflite-runtime 2.14 (numpy < 2, own venv) loads the model too."""
    venv = Path(os.environ.get("SOUNDSCAPE_TFLITE_VENV", PROJECT_ROOT / ".venv-tflite"))
    python = venv / "bin" / "python"
    if not python.exists():
        pytest.skip(
            f"no tflite-runtime environment at {venv} (scripts/test creates it on Python 3.11)"
        )
    photo = media / "night/owl/owl.jpg"
    code = (
        "import sys, numpy as np; from appliance.vision.embedder import Embedder; "
        f"e = Embedder(num_threads=1, runtime='tflite_runtime'); v = e.embed_file({str(photo)!r}); "
        "print(e.runtime); print(' '.join(repr(float(x)) for x in v))"
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    runtime, numbers = proc.stdout.strip().splitlines()[-2:]
    assert runtime == "tflite_runtime"
    theirs = np.array([float(x) for x in numbers.split()], np.float32)
    ours = embedder.embed_file(photo)
    cos = float(theirs @ ours / (np.linalg.norm(theirs) * np.linalg.norm(ours)))
    # Both run the same int8 graph; their CPU kernels round differently (XNNPACK
    # in ai-edge-litert), measured 0.9975 here.
    assert cos > 0.99, f"tflite-runtime vs ai-edge-litert cosine {cos}"
