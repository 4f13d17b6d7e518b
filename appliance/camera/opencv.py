"""USB webcams (V4L2) and GStreamer pipelines (a Jetson's CSI camera) through OpenCV.

OpenCV (``python3-opencv`` from apt, or ``pip install opencv-python-headless``)
is imported only when a camera is opened, so this module imports anywhere.

A reader thread reads the device as fast as it delivers and keeps only the
newest frame, so :meth:`OpenCVCamera.read` never returns a frame that waited
in a driver queue. Frames are converted from OpenCV's BGR to RGB.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from appliance.camera.base import DEFAULT_FRAME_SIZE
from appliance.errors import CameraError

log = logging.getLogger(__name__)

#: How to install OpenCV, for error messages.
OPENCV_FIX = (
    "install OpenCV: sudo apt install python3-opencv (with a --system-site-packages venv) "
    "or pip install opencv-python-headless"
)


def jetson_csi_pipeline(
    sensor_id: int = 0,
    size: tuple[int, int] = DEFAULT_FRAME_SIZE,
    *,
    capture_size: tuple[int, int] = (1280, 720),
    capture_fps: int = 30,
    flip_method: int = 0,
) -> str:
    """The GStreamer pipeline for a Jetson CSI camera (IMX219, IMX477, ...) read by OpenCV.

    ``nvarguscamerasrc`` captures ``capture_size`` at ``capture_fps`` (it
    must be one of the sensor's modes; 1280×720 at 30 fps suits the common
    IMX219 modules), ``nvvidconv`` scales it on the VIC to the smallest
    size that covers ``size`` with the capture's aspect (so 398×224 by
    default: the model centre-crops a square anyway), ``flip_method`` rotates it (0 none,
    2 180°), and ``appsink drop=true max-buffers=1`` keeps only the newest
    frame. The default, for ``sensor_id=0``::

        nvarguscamerasrc sensor-id=0 ! video/x-raw(memory:NVMM), width=1280, height=720,
        framerate=30/1, format=NV12 ! nvvidconv flip-method=0 ! video/x-raw, width=398,
        height=224, format=BGRx ! videoconvert ! video/x-raw, format=BGR !
        appsink drop=true max-buffers=1 sync=false
    """
    cw, ch = capture_size
    scale = max(int(size[0]) / cw, int(size[1]) / ch)
    width = max(2, round(cw * scale / 2) * 2)
    height = max(2, round(ch * scale / 2) * 2)
    return (
        f"nvarguscamerasrc sensor-id={int(sensor_id)} ! "
        f"video/x-raw(memory:NVMM), width={cw}, height={ch}, framerate={int(capture_fps)}/1, "
        f"format=NV12 ! nvvidconv flip-method={int(flip_method)} ! "
        f"video/x-raw, width={width}, height={height}, format=BGRx ! videoconvert ! "
        "video/x-raw, format=BGR ! appsink drop=true max-buffers=1 sync=false"
    )


def opencv_has_gstreamer(cv2: Any = None) -> bool:
    """Whether this OpenCV was built with GStreamer (``False`` if OpenCV is missing)."""
    if cv2 is None:
        try:
            import cv2
        except ImportError:
            return False
    match = re.search(r"GStreamer:\s*(\w+)", cv2.getBuildInformation())
    return bool(match and match.group(1).upper() == "YES")


def _v4l2_target(source: int | str) -> int | str:
    """What to hand OpenCV's V4L2 backend: an index for ``/dev/videoN``, else the path."""
    if isinstance(source, int):
        return source
    text = str(source)
    if text.isdigit():
        return int(text)
    resolved = str(Path(text).resolve()) if text.startswith("/") else text
    match = re.fullmatch(r"/dev/video(\d+)", resolved)
    return int(match.group(1)) if match else text


class OpenCVCamera:
    """A camera read with ``cv2.VideoCapture`` on a reader thread that keeps the newest frame.

    ``backend="v4l2"``: ``source`` is a device (``"/dev/video0"``, a
    ``/dev/v4l/by-id/...`` link, or an index ``0``); ``size`` (``(width,
    height)`` in pixels) and ``fps`` are requested from the driver (it may
    grant others: :attr:`size` and :attr:`fps` then hold the granted ones).
    ``backend="gstreamer"``: ``source`` is a pipeline ending in ``appsink``
    (see :func:`jetson_csi_pipeline`); the pipeline sets size and rate.

    ``first_frame_timeout_s``: :meth:`open` fails when no frame arrives in
    this time. ``stall_timeout_s``: :meth:`read` raises
    :class:`CameraError` when no frame has arrived for this long (an
    unplugged USB camera), and so does a run of failed reads.
    """

    def __init__(
        self,
        source: int | str,
        *,
        backend: str = "v4l2",
        size: tuple[int, int] = DEFAULT_FRAME_SIZE,
        fps: float = 15.0,
        first_frame_timeout_s: float = 2.0,
        stall_timeout_s: float = 5.0,
        name: str | None = None,
    ) -> None:
        if backend not in ("v4l2", "gstreamer"):
            raise ValueError(f"backend must be 'v4l2' or 'gstreamer', not {backend!r}")
        self.source = source
        self.backend = backend
        self.size = (int(size[0]), int(size[1]))
        self.fps = float(fps)
        self.first_frame_timeout_s = float(first_frame_timeout_s)
        self.stall_timeout_s = float(stall_timeout_s)
        if name is None:
            name = (
                f"/dev/video{source}" if isinstance(source, int) or str(source).isdigit()
                else str(source)
            )
            if backend == "gstreamer":
                name = "GStreamer pipeline " + (name if len(name) < 60 else name[:57] + "...")
        self.name = name
        self.description = f"{name} (OpenCV {backend})"
        self._cv2: Any = None
        self._cap: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None  # newest BGR frame
        self._seq = 0  # frames captured
        self._taken = 0  # _seq of the last frame returned by read()
        self._last_frame_at = 0.0
        self._error: str | None = None

    def open(self) -> None:
        """Open the device, start the reader and wait for a first frame. Harmless if open."""
        if self._thread is not None:
            return
        try:
            import cv2
        except ImportError as exc:
            raise CameraError(f"OpenCV is not installed ({exc}), needed for {self.name}; "
                              f"{OPENCV_FIX}") from exc
        self._cv2 = cv2
        if self.backend == "gstreamer":
            if not opencv_has_gstreamer(cv2):
                raise CameraError(
                    f"this OpenCV ({cv2.__version__}) was built without GStreamer, needed for "
                    f"{self.name}; on a Jetson use JetPack's python3-opencv (apt) in a "
                    "--system-site-packages venv"
                )
            cap = cv2.VideoCapture(str(self.source), cv2.CAP_GSTREAMER)
        else:
            cap = cv2.VideoCapture(_v4l2_target(self.source), cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            hint = (
                "is it plugged in (v4l2-ctl --list-devices) and is the user in the 'video' group?"
                if self.backend == "v4l2"
                else "test the pipeline with gst-launch-1.0 (replace appsink with fakesink)"
            )
            raise CameraError(f"could not open {self.name}; {hint}")
        if self.backend == "v4l2":
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.size[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.size[1])
            cap.set(cv2.CAP_PROP_FPS, self.fps)
            granted = (
                int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            )
            if granted[0] > 0 and granted[1] > 0:
                self.size = granted
            self.fps = float(cap.get(cv2.CAP_PROP_FPS) or self.fps)
            self.description = (
                f"{self.name} (OpenCV V4L2, {self.size[0]}×{self.size[1]} at {self.fps:g} fps)"
            )
        self._cap = cap
        self._stop = threading.Event()  # one per reader: an old blocked reader stays stopped
        self._error = None
        self._frame = None
        self._seq = self._taken = 0
        self._last_frame_at = time.monotonic()
        self._thread = threading.Thread(
            target=self._reader,
            args=(cap, self._stop),
            name=f"camera-reader {self.name}",
            daemon=True,
        )
        self._thread.start()
        with self._cond:
            self._cond.wait_for(
                lambda: self._seq > 0 or self._error is not None, self.first_frame_timeout_s
            )
            got = self._seq > 0
        if not got:
            self.close()
            raise CameraError(
                f"no frame from {self.name} within {self.first_frame_timeout_s:g} s; is the "
                "camera in use by another program?"
            )
        log.info("opened %s", self.description)

    def _reader(self, cap: Any, stop: threading.Event) -> None:
        """Reader thread: keep the newest frame; owns ``cap`` and releases it on exit."""
        failures = 0
        try:
            while not stop.is_set():
                try:
                    ok, frame = cap.read()
                except Exception as exc:  # cv2.error
                    ok, frame = False, None
                    log.debug("%s: read raised %s", self.name, exc)
                if ok and frame is not None:
                    failures = 0
                    with self._cond:
                        if stop.is_set():
                            return
                        self._frame = frame
                        self._seq += 1
                        self._last_frame_at = time.monotonic()
                        self._cond.notify_all()
                    continue
                failures += 1
                if failures >= 5:
                    with self._cond:
                        if stop.is_set():
                            return
                        self._error = (
                            f"{self.name} stopped delivering frames ({failures} failed reads); "
                            "was it unplugged?"
                        )
                        self._cond.notify_all()
                    return
                stop.wait(0.05)
        finally:
            cap.release()

    def read(self, timeout_s: float = 1.0) -> np.ndarray | None:
        """The newest frame not yet returned (RGB uint8), or ``None`` after ``timeout_s`` s."""
        if self._thread is None:
            raise CameraError(f"{self.description} is not open; call open() first")
        with self._cond:
            self._cond.wait_for(
                lambda: self._seq != self._taken or self._error is not None, max(0.0, timeout_s)
            )
            if self._error is not None:
                raise CameraError(self._error)
            if self._seq == self._taken:
                silent = time.monotonic() - self._last_frame_at
                if silent > self.stall_timeout_s:
                    raise CameraError(
                        f"no frame from {self.name} for {silent:.0f} s; was it unplugged, or is "
                        "its USB port short of power?"
                    )
                return None
            frame, self._taken = self._frame, self._seq
        assert frame is not None
        return np.ascontiguousarray(self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2RGB))

    def close(self) -> None:
        """Stop the reader (which releases the device). Harmless when already closed."""
        thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=2.0)
            if thread.is_alive():
                log.warning("%s: reader still blocked; it releases the device when it returns",
                            self.name)
        self._cap = None

    def __enter__(self) -> OpenCVCamera:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
