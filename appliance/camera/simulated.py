"""Cameras that ship in the package: a slideshow of photos and a video file.

Both implement :class:`~appliance.camera.base.SimulatedCamera`: their picture is
a pure function of time, ``frame_at(t_s)`` (``t_s`` in seconds from the
start), so an offline render is deterministic; ``read`` is the real-time side
of the same camera: it paces itself on :func:`time.monotonic` from
:meth:`open` and returns ``frame_at(now - opened_at)``, at most ``max_fps``
frames per second and one frame per call.

Like gpiozero's ``MockFactory`` pins, they behave like the real thing,
failures included: ``fail_after_s`` makes ``read`` raise
:class:`~appliance.errors.CameraError` that many seconds after :meth:`open`,
as an unplugged USB camera would. The failure applies **once**: after
``close()`` and ``open()`` the camera works again (and its clock restarts
from zero). ``unplugged_for_s`` keeps :meth:`open` failing for that many
seconds after the failure, as a camera that is plugged back in later would.

Frames are ``H×W×3`` uint8 RGB arrays, C-contiguous and writeable (each call
returns a new array).
"""

from __future__ import annotations

import bisect
import math
import os
import random
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from appliance.camera.base import DEFAULT_FRAME_SIZE
from appliance.errors import CameraError
from appliance.vision.images import IMAGE_SUFFIXES

#: ``(width, height)`` in pixels.
Size = tuple[int, int]

PathLike = str | os.PathLike[str]


class _SimulatedCamera:
    """Real-time pacing and simulated failures shared by the simulated cameras.

    Subclasses set ``description`` and implement ``frame_at``, ``label_at``,
    ``_prepare`` (check files on open; raise :class:`CameraError`) and
    ``_release`` (free decoders on close).
    """

    description: str

    def __init__(
        self,
        *,
        max_fps: float,
        fail_after_s: float | None,
        unplugged_for_s: float,
    ) -> None:
        if not max_fps > 0:
            raise ValueError(f"max_fps must be positive, not {max_fps}")
        if fail_after_s is not None and fail_after_s < 0:
            raise ValueError(f"fail_after_s must be >= 0 or None, not {fail_after_s}")
        if unplugged_for_s < 0:
            raise ValueError(f"unplugged_for_s must be >= 0, not {unplugged_for_s}")
        self.max_fps = float(max_fps)
        self.fail_after_s = fail_after_s
        self.unplugged_for_s = float(unplugged_for_s)
        #: Frames returned by :meth:`read` since the camera was made.
        self.frames_read = 0
        self._opened_at: float | None = None  # time.monotonic() at open()
        self._next_due = 0.0  # monotonic time the next frame may be delivered
        self._fail_armed = fail_after_s is not None
        self._failed_at: float | None = None  # monotonic time of the simulated unplug
        self._broken = False

    # -- the Camera protocol ------------------------------------------------------------------

    def open(self) -> None:
        """Start the camera's clock (``t_s = 0`` now). Harmless when already open.

        Raises :class:`CameraError` when a file is missing or unreadable, or
        while a simulated unplug lasts (``unplugged_for_s``).
        """
        if self._opened_at is not None:
            return
        now = time.monotonic()
        if self._failed_at is not None:
            left = self._failed_at + self.unplugged_for_s - now
            if left > 0:
                raise CameraError(
                    f"{self.description} is (simulated) unplugged for another {left:.1f} s; "
                    "try again later"
                )
        self._prepare()
        self._opened_at = now
        self._next_due = now
        self._broken = False

    def read(self, timeout_s: float = 1.0) -> np.ndarray | None:
        """The frame for the current time, or ``None`` if none is due within ``timeout_s``.

        Frames are delivered at most ``max_fps`` times a second; the call
        sleeps until the next one is due, but never longer than ``timeout_s``
        seconds. Raises :class:`CameraError` when the camera is not open or
        the simulated failure (``fail_after_s``) has happened.
        """
        if self._opened_at is None:
            raise CameraError(f"{self.description} is not open; call open() first")
        if self._broken:
            raise CameraError(self._unplugged_message())
        now = time.monotonic()
        deadline = now + max(0.0, timeout_s)
        fail_at = self._opened_at + self.fail_after_s if self._fail_armed else math.inf
        wake = min(self._next_due, fail_at)
        if wake > now:
            time.sleep(max(0.0, min(wake, deadline) - now))
            now = time.monotonic()
        if now >= fail_at:
            self._fail_armed = False  # the failure applies once
            self._broken = True
            self._failed_at = now
            raise CameraError(self._unplugged_message())
        if now < self._next_due:
            return None
        period = 1.0 / self.max_fps
        # Keep a steady grid while the caller keeps up; never queue a burst after a stall.
        lag = now - self._next_due
        self._next_due = (self._next_due if lag < period else now) + period
        self.frames_read += 1
        return self.frame_at(now - self._opened_at)

    def close(self) -> None:
        """Stop the clock and free decoders. Harmless when already closed."""
        self._opened_at = None
        self._release()

    def __enter__(self) -> _SimulatedCamera:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def elapsed_s(self) -> float:
        """Seconds since :meth:`open` (the ``t_s`` that :meth:`read` would show now)."""
        if self._opened_at is None:
            raise CameraError(f"{self.description} is not open")
        return time.monotonic() - self._opened_at

    def frame_at(self, t_s: float) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def label_at(self, t_s: float) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _prepare(self) -> None:
        """Check the files on open (raise :class:`CameraError`)."""

    def _release(self) -> None:
        """Free what ``frame_at`` holds open."""

    def _unplugged_message(self) -> str:
        return (
            f"{self.description} stopped delivering frames (simulated unplug "
            f"{self.fail_after_s:g} s after opening); close it and open it again"
        )


# --------------------------------------------------------------------------------------------
# Slideshow


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


class SlideshowCamera(_SimulatedCamera):
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
                with Image.open(path) as im:
                    size = im.size
            except (UnidentifiedImageError, OSError) as exc:
                raise CameraError(
                    f"slideshow photo {path} could not be read ({exc}); replace or remove it"
                ) from exc
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
            with Image.open(path) as src:
                if scale < 1.0:
                    src.draft("RGB", want)  # JPEG: decode at a reduced scale (fast)
                im = src.convert("RGB")
        except (UnidentifiedImageError, OSError) as exc:
            raise CameraError(
                f"slideshow photo {path} could not be read ({exc}); replace or remove it"
            ) from exc
        if im.size != want and scale < 1.0:
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


# --------------------------------------------------------------------------------------------
# Video file


class VideoFileCamera(_SimulatedCamera):
    """A video file decoded with PyAV, as if a camera were filming it.

    ``frame_at(t_s)`` is the frame whose presentation time is the latest at
    or before ``t_s`` (seconds from the first frame); with ``loop`` time wraps
    around the video's duration, without it the last frame is held. Decoding
    seeks to the keyframe before ``t_s`` and decodes forward, and keeps going
    forward when asked for later frames, so playing in order costs one decode
    per frame and the result does not depend on the order of the calls.

    ``size`` is ``None`` for the video's own size, or a ``(width, height)``
    box the frame is scaled to fit (aspect kept, no cropping).
    :meth:`label_at` is the file's stem.
    """

    def __init__(
        self,
        path: PathLike,
        loop: bool = True,
        *,
        size: Size | None = None,
        max_fps: float = 10.0,
        fail_after_s: float | None = None,
        unplugged_for_s: float = 0.0,
    ) -> None:
        super().__init__(
            max_fps=max_fps, fail_after_s=fail_after_s, unplugged_for_s=unplugged_for_s
        )
        self.path = Path(path)
        self.loop = bool(loop)
        self.size = size
        self.description = f"video file {self.path}"
        self._lock = threading.RLock()
        self._times: list[float] = []  # presentation time of each frame (s from the first)
        self._pts: list[int] = []  # the same, in the stream's time base
        self._keys: list[int] = []  # indices of keyframes
        self._duration = 0.0
        self._out_size: Size | None = None
        self._container: Any = None
        self._stream: Any = None
        self._frames: Any = None  # the decode generator
        self._last: tuple[int, Any] | None = None  # (index, av.VideoFrame) last decoded
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    # -- index --------------------------------------------------------------------------------

    def _open_container(self) -> Any:
        import av  # lazy: PyAV pulls in FFmpeg's libraries

        if not self.path.is_file():
            raise CameraError(f"video file {self.path} not found")
        try:
            container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as exc:
            raise CameraError(f"video file {self.path} could not be opened: {exc}") from exc
        if not container.streams.video:
            container.close()
            raise CameraError(f"{self.path} has no video track")
        return container

    def _index(self) -> None:
        """Read every packet's timestamp once (demuxing only, no decoding)."""
        if self._times:
            return
        import av

        container = self._open_container()
        with container:
            stream = container.streams.video[0]
            entries: dict[int, tuple[bool, int]] = {}
            try:
                for packet in container.demux(stream):
                    if packet.size == 0:
                        continue  # the flush packet at the end
                    if packet.pts is None:
                        raise CameraError(
                            f"video file {self.path} has frames without timestamps; remux it, "
                            f"e.g. ffmpeg -i {self.path.name} -c copy fixed.mp4"
                        )
                    entries[packet.pts] = (bool(packet.is_keyframe), int(packet.duration or 0))
            except av.error.FFmpegError as exc:
                raise CameraError(f"video file {self.path} could not be read: {exc}") from exc
            if not entries:
                raise CameraError(f"video file {self.path} has no frames")
            tb = stream.time_base or Fraction(1, 1000)
            pts = sorted(entries)
            last_dur = entries[pts[-1]][1] * tb
            if not last_dur > 0:
                rate = stream.average_rate or stream.guessed_rate
                last_dur = (1 / Fraction(rate)) if rate else Fraction(1, 25)
            width, height = stream.codec_context.width, stream.codec_context.height
        self._pts = pts
        self._times = [float((p - pts[0]) * tb) for p in pts]
        self._keys = [i for i, p in enumerate(pts) if entries[p][0]] or [0]
        if self._keys[0] != 0:
            self._keys.insert(0, 0)
        self._duration = self._times[-1] + float(last_dur)
        if self.size is None:
            self._out_size = (width, height)
        else:
            scale = min(self.size[0] / width, self.size[1] / height)
            self._out_size = (max(1, round(width * scale)), max(1, round(height * scale)))

    @property
    def duration_s(self) -> float:
        """Seconds for one pass through the video."""
        with self._lock:
            self._index()
            return self._duration

    @property
    def frame_count(self) -> int:
        with self._lock:
            self._index()
            return len(self._pts)

    @property
    def frame_size(self) -> Size:
        """``(width, height)`` of the frames this camera returns."""
        with self._lock:
            self._index()
            assert self._out_size is not None
            return self._out_size

    def frame_index_at(self, t_s: float) -> int:
        """Index of the video frame shown at ``t_s``."""
        with self._lock:
            self._index()
            t = max(0.0, float(t_s))
            if self.loop:
                t = math.fmod(t, self._duration)
            return max(0, bisect.bisect_right(self._times, t + 1e-9) - 1)

    def label_at(self, t_s: float) -> str:
        """The video file's stem."""
        return self.path.stem

    # -- decoding -----------------------------------------------------------------------------

    def _decode(self, idx: int) -> Any:
        """The decoded ``av.VideoFrame`` of frame ``idx`` (the nearest one after if absent)."""
        import av

        if self._last is not None and self._last[0] == idx:
            return self._last[1]
        key = self._keys[bisect.bisect_right(self._keys, idx) - 1]
        sequential = self._last is not None and key <= self._last[0] < idx
        if self._container is None:
            self._container = self._open_container()
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
            sequential = False
        try:
            if not sequential:
                self._container.seek(
                    self._pts[key], stream=self._stream, backward=True, any_frame=False
                )
                self._frames = self._container.decode(self._stream)
                self._last = None
            for frame in self._frames:
                if frame.pts is None:
                    continue
                i = max(0, bisect.bisect_right(self._pts, frame.pts) - 1)
                self._last = (i, frame)
                if i >= idx:
                    return frame
        except av.error.FFmpegError as exc:
            raise CameraError(
                f"video file {self.path}: frame {idx} could not be decoded: {exc}"
            ) from exc
        self._frames = None
        if self._last is None:
            raise CameraError(f"video file {self.path}: frame {idx} could not be decoded")
        return self._last[1]  # the stream ended early: hold its last frame

    def frame_at(self, t_s: float) -> np.ndarray:
        """The frame shown ``t_s`` seconds after the start (RGB uint8, :attr:`frame_size`)."""
        with self._lock:
            idx = self.frame_index_at(t_s)
            rgb = self._cache.get(idx)
            if rgb is None:
                assert self._out_size is not None
                w, h = self._out_size
                frame = self._decode(idx)
                rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24", width=w, height=h))
                self._cache[idx] = rgb
                while len(self._cache) > 8:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(idx)
            return rgb.copy()

    def _prepare(self) -> None:
        with self._lock:
            self._index()

    def _release(self) -> None:
        with self._lock:
            self._frames = None
            self._last = None
            self._cache.clear()
            if self._container is not None:
                self._container.close()
                self._container = None
                self._stream = None
