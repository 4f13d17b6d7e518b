"""The slideshow camera: photos in order, each with a slow pan and zoom ("Ken Burns")."""

from __future__ import annotations

import math
import os
import random
import threading
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from appliance.camera.base import DEFAULT_FRAME_SIZE
from appliance.camera.simulated.pacing import PacedCamera
from appliance.errors import CameraError, ImageError
from appliance.vision.images import IMAGE_SUFFIXES, image_size, open_image

#: ``(width, height)`` in pixels.
Size = tuple[int, int]

PathLike = str | os.PathLike[str]


def _collect_photos(source: PathLike | Sequence[PathLike]) -> tuple[list[Path], Path]:
    """The slideshow's photos in order, and the folder labels are relative to."""
    if isinstance(source, str | os.PathLike):
        root = Path(source)
        if root.is_file():
            return [root], root.parent
        if not root.is_dir():
            raise CameraError(f"slideshow folder {root} not found")
        photos = [
            p
            for p in root.rglob("*")
            if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
        ]
        photos.sort(key=lambda p: p.relative_to(root).as_posix())
        if not photos:
            raise CameraError(
                f"slideshow folder {root} has no photos ({', '.join(IMAGE_SUFFIXES)} files)"
            )
        return photos, root
    photos = [Path(p) for p in source]
    if not photos:
        raise CameraError("a slideshow needs at least one photo")
    for p in photos:
        if not p.is_file():
            raise CameraError(f"slideshow photo {p} not found")
    absolute = [p.absolute() for p in photos]
    root = Path(os.path.commonpath([p.parent for p in absolute]))
    return absolute, root


def _ease(u: float) -> float:
    """Smooth 0→1 over ``u`` in [0, 1] (zero speed at both ends)."""
    return 0.5 - 0.5 * math.cos(math.pi * min(1.0, max(0.0, u)))


class SlideshowCamera(PacedCamera):
    """Photos shown in order, ``seconds_per_image`` each, with a slow pan and zoom.

    ``source`` is a folder (every photo below it, sorted by relative path) or
    a list of photo files (in the given order). Each photo fills the frame
    (cropped to the frame's aspect, never stretched); with ``pan_zoom`` the
    crop drifts across the photo while zooming between 1× and ``zoom``× (the
    "Ken Burns" effect; easing in and out, seeded from the photo's label and
    ``seed``, so it is deterministic). The crop always stays inside the photo.
    Changes of photo are hard cuts, so :meth:`label_at` is exact.

    With ``loop`` the show starts again after the last photo; without it the
    last frame is held (``read`` keeps delivering it, like a camera looking
    at a still scene). ``size`` is ``(width, height)`` in pixels.

    Labels (:meth:`label_at`) are the photo's path relative to the folder,
    without suffix, in POSIX form, e.g. ``"forest/forest_path"`` (for a list,
    relative to the list's deepest common folder): the first part is the
    scene folder, the last the file's stem.
    """

    def __init__(
        self,
        source: PathLike | Sequence[PathLike],
        seconds_per_image: float = 8.0,
        pan_zoom: bool = True,
        size: Size = DEFAULT_FRAME_SIZE,
        loop: bool = True,
        *,
        max_fps: float = 10.0,
        zoom: float = 1.2,
        seed: int = 0,
        fail_after_s: float | None = None,
        unplugged_for_s: float = 0.0,
    ) -> None:
        super().__init__(
            max_fps=max_fps, fail_after_s=fail_after_s, unplugged_for_s=unplugged_for_s
        )
        if not seconds_per_image > 0:
            raise ValueError(f"seconds_per_image must be positive, not {seconds_per_image}")
        if not zoom >= 1.0:
            raise ValueError(f"zoom must be >= 1, not {zoom}")
        width, height = (int(v) for v in size)
        if width < 8 or height < 8:
            raise ValueError(f"size must be at least 8×8 pixels, not {size}")
        self.paths, self.root = _collect_photos(source)
        self.labels = [p.relative_to(self.root).with_suffix("").as_posix() for p in self.paths]
        self.seconds_per_image = float(seconds_per_image)
        self.pan_zoom = bool(pan_zoom)
        self.size: Size = (width, height)
        self.loop = bool(loop)
        self.zoom = float(zoom)
        self.seed = int(seed)
        self.description = (
            f"slideshow of {len(self.paths)} photo{'s' * (len(self.paths) != 1)} in {self.root} "
            f"({self.seconds_per_image:g} s each)"
        )
        self._sizes: dict[int, Size] = {}  # original photo sizes (from the header)
        self._cache: OrderedDict[int, Image.Image] = OrderedDict()  # prepared photos
        self._lock = threading.Lock()

    @property
    def duration_s(self) -> float:
        """Seconds for one pass through every photo."""
        return len(self.paths) * self.seconds_per_image

    # -- timeline -----------------------------------------------------------------------------

    def _slot(self, t_s: float) -> tuple[int, float]:
        """Photo index and progress ``u`` in [0, 1] through its slot at ``t_s``."""
        n = len(self.paths)
        t = max(0.0, float(t_s))
        if not self.loop and t >= self.duration_s:
            return n - 1, 1.0
        slot = math.floor(t / self.seconds_per_image)
        u = (t - slot * self.seconds_per_image) / self.seconds_per_image
        return slot % n, min(1.0, max(0.0, u))

    def index_at(self, t_s: float) -> int:
        """Index into :attr:`paths` of the photo shown at ``t_s``."""
        return self._slot(t_s)[0]

    def path_at(self, t_s: float) -> Path:
        """The photo file shown at ``t_s``."""
        return self.paths[self.index_at(t_s)]

    def label_at(self, t_s: float) -> str:
        """The shown photo's label, e.g. ``"forest/forest_path"``."""
        return self.labels[self.index_at(t_s)]

    # -- pan and zoom -------------------------------------------------------------------------

    def _photo_size(self, i: int) -> Size:
        size = self._sizes.get(i)
        if size is None:
            path = self.paths[i]
            try:
                size = image_size(path)  # the one reader of untrusted pictures (limits, EXIF)
            except ImageError as exc:
                raise CameraError(f"slideshow: {exc}; replace or remove it") from exc
            self._sizes[i] = size
        return size

    def _motion(self, i: int) -> tuple[float, float, tuple[float, float], tuple[float, float]]:
        """Start and end zoom and centre offsets (in [-1, 1]) of photo ``i``'s move."""
        rng = random.Random(zlib.crc32(f"{self.seed}:{self.labels[i]}".encode()))
        z0, z1 = (1.0, self.zoom) if rng.random() < 0.5 else (self.zoom, 1.0)
        angle = rng.uniform(0.0, 2.0 * math.pi)
        reach = rng.uniform(0.6, 0.9)
        start = (reach * math.cos(angle), reach * math.sin(angle))
        return z0, z1, start, (-start[0], -start[1])

    def _box(self, i: int, u: float) -> tuple[float, float, float, float]:
        """The crop of photo ``i`` at progress ``u``, as fractions of its width and height."""
        iw, ih = self._photo_size(i)
        aspect = self.size[0] / self.size[1]
        if iw / ih > aspect:  # wider than the frame: full height
            cw, ch = ih * aspect / iw, 1.0
        else:
            cw, ch = 1.0, iw / aspect / ih
        ox = oy = 0.0
        if self.pan_zoom:
            z0, z1, (sx, sy), (ex, ey) = self._motion(i)
            e = _ease(u)
            z = z0 * (z1 / z0) ** e  # geometric: a steady apparent zoom speed
            cw, ch = cw / z, ch / z
            ox, oy = sx + (ex - sx) * e, sy + (ey - sy) * e
        cx = 0.5 + ox * (1.0 - cw) / 2.0
        cy = 0.5 + oy * (1.0 - ch) / 2.0
        x0, y0 = max(0.0, cx - cw / 2.0), max(0.0, cy - ch / 2.0)
        return x0, y0, min(1.0, x0 + cw), min(1.0, y0 + ch)

    def crop_at(self, t_s: float) -> tuple[float, float, float, float]:
        """The part of the photo shown at ``t_s``: ``(left, top, right, bottom)`` in its pixels.

        Always inside ``(0, 0, photo width, photo height)``.
        """
        i, u = self._slot(t_s)
        x0, y0, x1, y1 = self._box(i, u)
        iw, ih = self._photo_size(i)
        return x0 * iw, y0 * ih, x1 * iw, y1 * ih

    # -- rendering ----------------------------------------------------------------------------

    def _prepared(self, i: int) -> Image.Image:
        """Photo ``i`` decoded and shrunk to just enough pixels for the deepest zoom."""
        with self._lock:
            im = self._cache.get(i)
            if im is not None:
                self._cache.move_to_end(i)
                return im
        path = self.paths[i]
        iw, ih = self._photo_size(i)
        aspect = self.size[0] / self.size[1]
        cover_w = min(iw, ih * aspect)  # width of the full-frame crop, in photo pixels
        scale = min(1.0, self.size[0] * self.zoom / cover_w)
        want = (max(1, round(iw * scale)), max(1, round(ih * scale)))
        try:
            # Large JPEGs decode at a reduced scale; every picture is checked and oriented.
            im = open_image(path, max_pixels=max(want[0] * want[1], 1))
        except ImageError as exc:
            raise CameraError(f"slideshow: {exc}; replace or remove it") from exc
        if im.size != want:
            im = im.resize(want, Image.BILINEAR)
        with self._lock:
            self._cache[i] = im
            while len(self._cache) > 3:
                self._cache.popitem(last=False)
        return im

    def frame_at(self, t_s: float) -> np.ndarray:
        """The frame shown ``t_s`` seconds after the start (``size``, RGB uint8)."""
        i, u = self._slot(t_s)
        im = self._prepared(i)
        x0, y0, x1, y1 = self._box(i, u)
        pw, ph = im.size
        out = im.resize(self.size, Image.BILINEAR, box=(x0 * pw, y0 * ph, x1 * pw, y1 * ph))
        return np.array(out, dtype=np.uint8, order="C")

    def _prepare(self) -> None:
        for i in range(len(self.paths)):
            self._photo_size(i)  # headers only: a missing or broken photo fails here

    def _release(self) -> None:
        with self._lock:
            self._cache.clear()
