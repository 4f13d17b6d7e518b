"""The one resize policy every frame and keyframe goes through.

Policy: centre-crop to the largest square, then resize to the model's input
size with bilinear filtering (PIL). Camera frames, corpus keyframes and the
model's calibration photos all use it, so distances compare like with like.
"""

from __future__ import annotations

import math
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from appliance.errors import ImageError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
#: The formats read (by content, whatever the file is called); anything else is refused.
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "BMP")
#: Largest picture accepted, pixels: a JPEG is decoded at a reduced scale (1/2, 1/4 or
#: 1/8: libjpeg's draft mode) so a large one costs little; the other formats are decoded
#: whole (up to 4 bytes a pixel), so their limit keeps that near 64 MB on a Pi.
MAX_JPEG_PIXELS = 120_000_000
MAX_PIXELS = 16_000_000
#: Pictures are handed on with at most this many pixels (a 2300×1730 photo at 4:3): the
#: model sees a 224×224 centre square, the zoom variant 60 % of it, the view 160 px.
OUT_PIXELS = 4_000_000
_GREY16 = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def _fail(path: Path, what: str) -> ImageError:
    return ImageError(f"image {path}: {what}")


def _regular(path: Path) -> None:
    """Refuse a folder, a FIFO or a device (opening one would block or fail oddly)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise ImageError(f"image {path} not found") from exc
    except (OSError, ValueError) as exc:
        raise _fail(path, f"could not be read ({exc})") from exc
    if stat.S_ISDIR(mode):
        raise _fail(path, "is a folder, not a picture")
    if not stat.S_ISREG(mode):
        raise _fail(path, "is not a regular file (a pipe or a device?)")


def open_image(path: Path | str, max_pixels: int = OUT_PIXELS) -> Image.Image:
    """Decode a picture file safely into an RGB PIL image of at most ``max_pixels`` pixels.

    The one reader of untrusted pictures (match, render, corpus build, the slideshow):
    only JPEG, PNG, WebP and BMP (by content), at most :data:`MAX_JPEG_PIXELS` /
    :data:`MAX_PIXELS` pixels; large JPEGs are decoded at a reduced scale and anything
    larger than ``max_pixels`` is scaled down (aspect kept); EXIF orientation is applied
    (a phone's portrait photo stands upright); 16-bit grey is scaled to 8 bits, alpha is
    flattened onto white, palettes and CMYK become RGB. Raises :class:`ImageError` with
    one line naming the file for anything else.
    """
    path = Path(path)
    _regular(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path, formats=IMAGE_FORMATS)
    except FileNotFoundError as exc:
        raise ImageError(f"image {path} not found") from exc
    except IsADirectoryError as exc:
        raise _fail(path, "is a folder, not a picture") from exc
    except Image.DecompressionBombError as exc:
        raise _fail(path, f"has more than {MAX_JPEG_PIXELS // 10**6} million pixels; scale it "
                          "down (a Pi cannot hold it in memory)") from exc
    except UnidentifiedImageError as exc:
        raise _fail(path, "is not a JPEG, PNG, WebP or BMP picture") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise _fail(path, f"could not be read ({exc})") from exc
    try:
        with im:
            return _decode(path, im, max_pixels)
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError, MemoryError, Image.DecompressionBombError,
            EOFError, IndexError, TypeError, ZeroDivisionError) as exc:  # damaged data
        raise _fail(path, f"could not be decoded ({type(exc).__name__}: {exc})") from exc


def _decode(path: Path, im: Image.Image, max_pixels: int) -> Image.Image:
    w, h = im.size
    limit = MAX_JPEG_PIXELS if im.format == "JPEG" else MAX_PIXELS
    if w < 1 or h < 1:
        raise _fail(path, f"is {w}×{h} pixels")
    if w * h > limit:
        raise _fail(path, f"is {w}×{h} pixels ({w * h / 1e6:.0f} million); the limit for "
                          f"{im.format} is {limit // 10**6} million (a Pi's memory): scale it "
                          "down")
    scale = min(1.0, math.sqrt(max_pixels / (w * h)))
    want = (max(1, math.floor(w * scale)), max(1, math.floor(h * scale)))
    if scale < 1.0 and im.format == "JPEG":
        im.draft(im.mode if im.mode in ("RGB", "L") else None, want)  # decode at 1/2..1/8
    im.load()
    if im.size[0] * im.size[1] > max_pixels:
        factor = max(1, math.floor(min(im.size[0] / want[0], im.size[1] / want[1])))
        if factor > 1 and im.mode not in ("P", "1", *_GREY16[:-1]):
            im = im.reduce(factor)  # cheap box filter first: the next copies are smaller
    im = ImageOps.exif_transpose(im)
    rgb = _to_rgb(im)
    if rgb.size[0] * rgb.size[1] > max_pixels:
        ow, oh = rgb.size
        s = math.sqrt(max_pixels / (ow * oh))
        rgb = rgb.resize((max(1, math.floor(ow * s)), max(1, math.floor(oh * s))),
                         Image.BILINEAR)
    return rgb


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any mode → 8-bit RGB, keeping what the picture shows (not PIL's clipping)."""
    if im.mode == "RGB":
        return im
    if im.mode in _GREY16:  # 16-bit grey (PIL's convert would clip it to white)
        grey = np.asarray(im)
        if im.mode == "I":  # 32-bit: a 16-bit PNG's values, kept in 0..65535
            grey = np.clip(grey, 0, 65535)
        grey = (grey >> 8).astype(np.uint8)  # 257·k → k: 16 bits to 8, in at most 2 copies
        return Image.fromarray(grey, "L").convert("RGB")
    if im.mode == "F":
        grey = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0)
        top = float(grey.max()) if grey.size else 1.0
        grey = np.clip(grey * (255.0 if top <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if im.mode in ("P", "PA") and ("transparency" in im.info or im.mode == "PA"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    return im.convert("RGB")


def image_size(path: Path | str) -> tuple[int, int]:
    """A picture's (width, height) in pixels as it stands (EXIF orientation applied).

    Reads only the header; refuses what :func:`open_image` would (format, pixel limit).
    """
    path = Path(path)
    _regular(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=IMAGE_FORMATS) as im:
                w, h = im.size
                limit = MAX_JPEG_PIXELS if im.format == "JPEG" else MAX_PIXELS
                orientation = im.getexif().get(0x0112, 1)
    except FileNotFoundError as exc:
        raise ImageError(f"image {path} not found") from exc
    except Image.DecompressionBombError as exc:
        raise _fail(path, f"has more than {MAX_JPEG_PIXELS // 10**6} million pixels") from exc
    except UnidentifiedImageError as exc:
        raise _fail(path, "is not a JPEG, PNG, WebP or BMP picture") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise _fail(path, f"could not be read ({exc})") from exc
    if w * h > limit:
        raise _fail(path, f"is {w}×{h} pixels; the limit for this format is "
                          f"{limit // 10**6} million: scale it down")
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def load_rgb(path: Path | str, max_pixels: int = OUT_PIXELS) -> np.ndarray:
    """Read a picture file as an ``H×W×3`` uint8 RGB array (see :func:`open_image`)."""
    return np.asarray(open_image(path, max_pixels))


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
