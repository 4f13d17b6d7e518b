"""The Raspberry Pi camera (CSI ribbon cable) through picamera2 and libcamera.

picamera2 comes from Raspberry Pi OS's apt repository (``python3-picamera2``;
a venv sees it when made with ``--system-site-packages``); it is imported
only when a camera is opened, so this module imports anywhere.

The main stream is configured small (default 320×224: the model's 224×224
input is its centre square, and the ISP does the scaling in hardware) in
``BGR888``, which — libcamera names formats by their little-endian word
order — gives numpy arrays in **RGB** order. The request
queue is off (``queue=False``), so every frame returned was captured after
the call: never a stale one.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from appliance.camera.base import DEFAULT_FRAME_SIZE
from appliance.errors import CameraError

log = logging.getLogger(__name__)

#: How to install picamera2, for error messages.
PICAMERA2_FIX = (
    "on Raspberry Pi OS: sudo apt install python3-picamera2, and make the venv with "
    "python3 -m venv --system-site-packages"
)


def pi_cameras() -> list[dict[str, Any]]:
    """libcamera's list of cameras (``Picamera2.global_camera_info()``); ``[]`` if none.

    Raises :class:`ImportError` when picamera2 is not installed.
    """
    from picamera2 import Picamera2  # lazy: only on a Pi

    return list(Picamera2.global_camera_info())


class PiCamera:
    """A Raspberry Pi camera module (any libcamera-supported sensor, Pi 4 or Pi 5).

    ``size`` is ``(width, height)`` in pixels of the main stream (picamera2
    may align it, e.g. the width to a multiple of 32; :attr:`size` then
    holds the granted one). The sensor runs at ``fps`` frames per second
    (kept at 10 or more so auto-exposure and white balance settle quickly
    after the wearer turns); :meth:`read` returns the next frame.

    ``first_frame_timeout_s``: :meth:`open` fails when no frame arrives in
    this time. ``stall_timeout_s``: :meth:`read` raises
    :class:`CameraError` when no frame has arrived for this long.
    """

    def __init__(
        self,
        size: tuple[int, int] = DEFAULT_FRAME_SIZE,
        *,
        camera_num: int = 0,
        fps: float = 15.0,
        first_frame_timeout_s: float = 3.0,
        stall_timeout_s: float = 5.0,
    ) -> None:
        self.size = (int(size[0]), int(size[1]))
        self.camera_num = int(camera_num)
        self.fps = max(10.0, float(fps))
        self.first_frame_timeout_s = float(first_frame_timeout_s)
        self.stall_timeout_s = float(stall_timeout_s)
        self.model = ""
        self.description = f"Pi camera {self.camera_num} (picamera2)"
        self._cam: Any = None
        self._job: Any = None  # a capture requested but not yet collected
        self._last_frame_at = 0.0

    def open(self) -> None:
        """Start the camera and wait for its first frame. Harmless when already open."""
        if self._cam is not None:
            return
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise CameraError(f"picamera2 is not installed ({exc}); {PICAMERA2_FIX}") from exc
        try:
            infos = Picamera2.global_camera_info()
        except Exception as exc:  # libcamera errors are not typed
            raise CameraError(f"libcamera could not list cameras: {exc}") from exc
        if self.camera_num >= len(infos):
            raise CameraError(
                f"no Pi camera {self.camera_num}: libcamera sees {len(infos)} camera(s); check "
                "the ribbon cable (contacts the right way round, latch closed) and run "
                "rpicam-hello --list-cameras"
            )
        self.model = str(infos[self.camera_num].get("Model", "unknown sensor"))
        cam = None
        try:
            cam = Picamera2(self.camera_num)
            frame_us = round(1e6 / self.fps)
            config = cam.create_video_configuration(
                main={"size": self.size, "format": "BGR888"},
                queue=False,
                buffer_count=4,
                controls={"FrameDurationLimits": (frame_us, frame_us)},
            )
            cam.align_configuration(config)
            cam.configure(config)
            cam.start()
            granted = config["main"]["size"]  # after alignment
            self.size = (int(granted[0]), int(granted[1]))
        except Exception as exc:
            if cam is not None:
                _quietly(cam.close)
            raise CameraError(
                f"Pi camera {self.camera_num} ({self.model}) could not be started: {exc}; is "
                "another program (rpicam-*, a second soundscape) using it?"
            ) from exc
        self._cam = cam
        self._job = None
        self._last_frame_at = time.monotonic()
        self.description = (
            f"Pi camera {self.camera_num}: {self.model} (picamera2, "
            f"{self.size[0]}×{self.size[1]} at {self.fps:g} fps)"
        )
        if self._capture(self.first_frame_timeout_s) is None:
            self.close()
            raise CameraError(
                f"no frame from Pi camera {self.camera_num} ({self.model}) within "
                f"{self.first_frame_timeout_s:g} s; check the ribbon cable and run rpicam-hello"
            )
        log.info("opened %s", self.description)

    def _capture(self, timeout_s: float) -> np.ndarray | None:
        if self._job is None:
            self._job = self._cam.capture_array("main", wait=False)
        try:
            array = self._cam.wait(self._job, timeout=max(0.0, timeout_s))
        except TimeoutError:
            return None  # the job stays pending: the next call collects it
        self._job = None
        self._last_frame_at = time.monotonic()
        if array.ndim == 3 and array.shape[2] == 4:  # XBGR8888 if a platform insists
            array = array[:, :, :3]
        return np.ascontiguousarray(array, dtype=np.uint8)

    def read(self, timeout_s: float = 1.0) -> np.ndarray | None:
        """The next frame (RGB uint8), or ``None`` if none arrived within ``timeout_s`` seconds."""
        if self._cam is None:
            raise CameraError(f"{self.description} is not open; call open() first")
        try:
            frame = self._capture(timeout_s)
        except Exception as exc:
            raise CameraError(
                f"{self.description} stopped delivering frames: {exc}; check the ribbon cable"
            ) from exc
        if frame is None:
            silent = time.monotonic() - self._last_frame_at
            if silent > self.stall_timeout_s:
                raise CameraError(
                    f"no frame from {self.description} for {silent:.0f} s; check the ribbon "
                    "cable and the power supply (undervoltage stalls the camera)"
                )
        return frame

    def close(self) -> None:
        """Stop and release the camera. Harmless when already closed."""
        cam, self._cam, self._job = self._cam, None, None
        if cam is not None:
            _quietly(cam.stop)
            _quietly(cam.close)

    def __enter__(self) -> PiCamera:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _quietly(fn: Any) -> None:
    try:
        fn()
    except Exception as exc:  # closing a broken camera must not mask the first error
        log.debug("ignored while closing the camera: %s", exc)
