"""The video-file camera: a file decoded with PyAV, as if a camera were filming it."""

from __future__ import annotations

import bisect
import math
import threading
from collections import OrderedDict
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from appliance.camera.simulated.pacing import PacedCamera
from appliance.camera.simulated.slideshow import PathLike, Size
from appliance.errors import CameraError


class VideoFileCamera(PacedCamera):
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
