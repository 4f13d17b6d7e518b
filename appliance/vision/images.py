"""The one resize policy every frame and keyframe goes through.

Policy: centre-crop to the largest square, then resize to the model's input
size with bilinear filtering (PIL). Camera frames, corpus keyframes and the
model's calibration photos all use it, so distances compare like with like.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from appliance.errors import ImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def load_rgb(path: Path) -> np.ndarray:
    """Read an image file as an ``H×W×3`` uint8 RGB array."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except FileNotFoundError as exc:
        raise ImageError(f"image {path} not found") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageError(f"image {path} could not be read: {exc}") from exc


def square_resize(rgb: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop ``rgb`` (H×W×3 uint8) to a square and resize to ``size×size``."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageError(f"expected an H×W×3 RGB frame, got shape {rgb.shape}")
    h, w = rgb.shape[:2]
    side = min(h, w)
    if side < 8:
        raise ImageError(f"frame of {w}×{h} pixels is too small")
    top, left = (h - side) // 2, (w - side) // 2
    crop = rgb[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(crop, dtype=np.uint8)
    im = Image.fromarray(np.ascontiguousarray(crop, dtype=np.uint8))
    return np.asarray(im.resize((size, size), Image.BILINEAR))


def side_by_side(left: Path, right: Path, out: Path, height: int = 480) -> Path:
    """Write a picture of two photos next to each other (each its centre square, ``height``
    pixels high) to ``out``: a view with something on the left and something else on the
    right, to hear the sound follow where things are. Returns ``out``."""
    halves = [Image.fromarray(square_resize(load_rgb(p), height)) for p in (left, right)]
    picture = Image.new("RGB", (2 * height, height))
    for i, half in enumerate(halves):
        picture.paste(half, (i * height, 0))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(out, quality=90)
    return out
