"""JPEGs for the live view: the camera frame and keyframe thumbnails.

A corpus does not store pictures of its keyframes (only their embeddings), so
a thumbnail is rendered from the corpus' sources, as recorded in its manifest:

- a scene-manifest corpus: the keyframe's photo (``origins[k]``, relative to the
  manifest's folder) with its variant applied (flip, left, right, zoom);
- a video corpus: the video frame at the keyframe's time (a seek, then a short decode);
- otherwise (sources moved or deleted, another machine): a swatch in the scene's
  colour with its name.

Every thumbnail goes through the model's own resize policy (centre square), so
the page shows what the model compared. Thumbnails are cached (LRU); all the
work happens on the view's threads.
"""

from __future__ import annotations

import colorsys
import io
import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

log = logging.getLogger(__name__)

THUMB_PX = 160
FRAME_WIDTH = 320
JPEG_QUALITY = 80


def scene_hues(names) -> dict[str, int]:
    """A hue (degrees) for each distinct scene name, in order: golden-angle steps, so
    neighbouring scenes get clearly different colours. The page gets these in the event."""
    distinct = list(dict.fromkeys(names))
    return {name: round(200 + i * 137.508) % 360 for i, name in enumerate(distinct)}


def hsl_rgb(hue: int, saturation: float = 0.45, lightness: float = 0.45) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb(hue / 360.0, lightness, saturation)
    return int(r * 255), int(g * 255), int(b * 255)


def encode_jpeg(rgb: np.ndarray | Image.Image, width: int | None = None,
                quality: int = JPEG_QUALITY) -> bytes:
    """``rgb`` (H×W×3 uint8 or a PIL image) as JPEG bytes, scaled down to ``width`` px."""
    im = rgb if isinstance(rgb, Image.Image) else Image.fromarray(
        np.ascontiguousarray(rgb, dtype=np.uint8))
    im = im.convert("RGB")
    if width is not None and im.width > width:
        im = im.resize((width, max(1, round(im.height * width / im.width))), Image.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def placeholder_jpeg(text: str, colour: tuple[int, int, int] = (90, 90, 90),
                     size: tuple[int, int] = (THUMB_PX, THUMB_PX)) -> bytes:
    """A plain swatch with a line of text (no source picture available)."""
    im = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(im)
    draw.text((8, size[1] // 2 - 6), text[:24], fill=(255, 255, 255))
    return encode_jpeg(im)


class FrameJpeg:
    """The snapshot's camera frame as a small JPEG, encoded once per frame."""

    def __init__(self, width: int = FRAME_WIDTH) -> None:
        self.width = width
        self._lock = threading.Lock()
        self._key: tuple[int, int] | None = None
        self._jpeg = b""
        self._none = placeholder_jpeg("no camera frame yet", size=(width, width * 3 // 4))

    def get(self, snapshot) -> bytes:
        frame = snapshot.frame
        if frame is None:
            return self._none
        key = (int(snapshot.frames_seen), id(frame))
        with self._lock:
            if key != self._key:
                self._jpeg = encode_jpeg(frame, self.width)
                self._key = key
            return self._jpeg


def _square(rgb: np.ndarray, size: int) -> np.ndarray:
    from appliance.vision.images import square_resize

    return square_resize(rgb, size)


def _photo_of(corpus, k: int) -> np.ndarray | None:
    src = corpus.source or {}
    kind, path = src.get("kind"), src.get("path")
    if not isinstance(path, str):
        return None
    origin = corpus.origins[k]
    if kind == "scene-manifest":
        from appliance.corpus.augment import VARIANTS
        from appliance.vision.images import load_rgb

        photo = Path(path).parent / origin
        if not photo.is_file():
            return None
        rgb = load_rgb(photo)
        variant = VARIANTS.get(corpus.variants[k])
        return variant(rgb) if variant is not None else rgb
    if kind == "video":
        base = Path(path)
        video = base if base.is_file() else base / origin
        if not video.is_file():
            return None
        scene = corpus.scenes[k]
        offset = next((a for name, a, _ in corpus.scene_spans() if name == scene), 0.0)
        return video_frame(video, float(corpus.keyframe_times[k]) - offset)
    return None


def video_frame(path: Path, t_s: float, max_frames: int = 600) -> np.ndarray | None:
    """The first frame of ``path`` shown at or after ``t_s`` s from its first frame."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        first = None
        for frame in container.decode(stream):  # the stream's first timestamp
            first = float(frame.time or 0.0)
            break
        if first is None:
            return None
        target = first + max(0.0, t_s)
        if stream.time_base:
            container.seek(int(target / stream.time_base), stream=stream, backward=True)
        last = None
        for i, frame in enumerate(container.decode(stream)):
            if frame.time is None:
                continue
            last = frame
            if frame.time >= target - 1e-3 or i >= max_frames:
                break
        return last.to_ndarray(format="rgb24") if last is not None else None


class Thumbnails:
    """Keyframe thumbnails (JPEG bytes), rendered on demand and kept in an LRU cache."""

    def __init__(self, size: int = THUMB_PX, capacity: int = 256) -> None:
        self.size = size
        self.capacity = capacity
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, corpus, k: int) -> bytes:
        key = (str(getattr(corpus, "path", corpus.name)), int(k))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        jpeg = self._render(corpus, k)
        with self._lock:
            self._cache[key] = jpeg
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return jpeg

    def _render(self, corpus, k: int) -> bytes:
        scene = corpus.scenes[k]
        try:
            rgb = _photo_of(corpus, k)
            if rgb is not None:
                return encode_jpeg(_square(rgb, self.size))
        except Exception as exc:  # a missing codec or a broken file: show the swatch
            log.info("no thumbnail for %s keyframe %d (%s)", corpus.name, k, exc)
        hue = scene_hues(n for n, _, _ in corpus.scene_spans()).get(scene, 0)
        return placeholder_jpeg(f"{scene} #{k}", hsl_rgb(hue), (self.size, self.size))
