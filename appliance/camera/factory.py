"""Choose, open and list cameras from a one-line spec (as in the config file or ``--camera``).

Specs:

``"auto"``
    detect, in the order below.
``"picamera2"`` or ``"picamera2:<n>"``
    Raspberry Pi camera ``n`` (default 0) via picamera2.
``"v4l2:/dev/video0"`` or ``"v4l2:0"``
    a USB webcam (any V4L2 capture device; ``/dev/v4l/by-id/...`` links are stable
    across reboots) via OpenCV.
``"gstreamer:<pipeline>"``
    an OpenCV GStreamer pipeline ending in ``appsink``; ``"gstreamer"`` alone is the
    Jetson CSI camera pipeline of :func:`~appliance.camera.opencv.jetson_csi_pipeline`.
``"video:<path>"``
    a video file, looped (:class:`~appliance.camera.simulated.VideoFileCamera`).
``"slideshow:<folder>"``
    the photos below a folder (:class:`~appliance.camera.simulated.SlideshowCamera`);
    ``"slideshow"`` alone shows ``fallback_folder`` (the demo photos).

Auto-detection order (the first that works wins):

1. **Pi camera**: picamera2 imports and ``Picamera2.global_camera_info()`` lists a camera.
2. **USB / V4L2**: the first ``/dev/videoN`` (in numeric order) that opens and delivers a
   frame within 2 s. Skipped without opening: nodes whose
   ``/sys/class/video4linux/videoN/name`` names a Pi codec, ISP or CSI receiver
   (``bcm2835-codec``, ``bcm2835-isp``, ``rpivid``, ``pispbe``, ``hevc``, ``unicam``,
   ``rp1-cfe``) or a Jetson VI node (``vi-output``: raw Bayer, read through GStreamer
   instead), and nodes that ``VIDIOC_QUERYCAP`` reports as not video capture (UVC
   metadata nodes, memory-to-memory codecs).
3. **Jetson CSI camera** via GStreamer: ``/dev/nvhost-ctrl`` or ``/etc/nv_tegra_release``
   exists and OpenCV was built with GStreamer.
4. **The simulated slideshow** of ``fallback_folder``, with a logged warning that says
   no camera was found and why each step failed.

Hardware cameras capture at ``max(fps, 15)`` frames per second (auto-exposure and
white balance settle per frame) and :meth:`read` returns the newest; simulated
cameras deliver at most ``fps`` frames per second.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

from appliance import DEMO_MEDIA
from appliance.camera.base import DEFAULT_FRAME_SIZE, Camera
from appliance.camera.jetson import JETSON_MARKERS, is_jetson  # noqa: F401 (re-exported)
from appliance.camera.opencv import OpenCVCamera, jetson_csi_pipeline, opencv_has_gstreamer
from appliance.camera.picamera import PiCamera, pi_cameras
from appliance.camera.simulated import SlideshowCamera, VideoFileCamera
from appliance.errors import CameraError

log = logging.getLogger(__name__)

SPEC_HELP = (
    "auto, picamera2[:<n>], v4l2:/dev/video<n>, gstreamer[:<pipeline>], video:<file> or "
    "slideshow[:<folder>]"
)

#: Substrings of V4L2 device names that are not cameras a program should open.
SKIP_V4L2_NAMES = (
    "bcm2835-codec",
    "bcm2835-isp",
    "rpivid",
    "pispbe",
    "hevc",
    "unicam",
    "rp1-cfe",
    "vi-output",
)
_VIDIOC_QUERYCAP = 0x80685600  # _IOR('V', 0, struct v4l2_capability), 104 bytes
_CAP_VIDEO_CAPTURE = 0x00000001
_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
_CAP_VIDEO_M2M = 0x00008000
_CAP_VIDEO_M2M_MPLANE = 0x00004000
_CAP_DEVICE_CAPS = 0x80000000


@dataclass(frozen=True)
class V4L2Node:
    """One ``/dev/videoN`` node, as sysfs and ``VIDIOC_QUERYCAP`` describe it."""

    path: str
    number: int
    name: str  # from sysfs
    driver: str = ""
    card: str = ""
    bus: str = ""
    #: True/False from VIDIOC_QUERYCAP; None when it could not be asked (permissions).
    capture: bool | None = None
    query_error: str = ""

    @property
    def skip_reason(self) -> str:
        """Why auto-detection does not try this node (``""``: it does)."""
        lowered = self.name.lower()
        for word in SKIP_V4L2_NAMES:
            if word in lowered:
                return f"{word} is not a camera for us"
        if self.capture is False:
            return "not a video capture node"
        return ""

    def describe(self) -> str:
        what = self.card or self.name or "unknown device"
        extra = ", ".join(v for v in (self.driver, self.bus) if v)
        text = f"v4l2:{self.path} — {what}" + (f" ({extra})" if extra else "")
        if self.capture is None and self.query_error:
            text += f" [could not query: {self.query_error}; is the user in the 'video' group?]"
        return text


def _querycap(path: str) -> tuple[str, str, str, bool]:
    """``(driver, card, bus_info, is_capture)`` of a V4L2 node; raises OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        buf = bytearray(104)
        fcntl.ioctl(fd, _VIDIOC_QUERYCAP, buf, True)
    finally:
        os.close(fd)

    def text(a: int, b: int) -> str:
        return bytes(buf[a:b]).split(b"\0", 1)[0].decode("utf-8", "replace")

    _version, caps, device_caps = struct.unpack_from("=III", buf, 80)
    if caps & _CAP_DEVICE_CAPS:
        caps = device_caps
    capture = bool(caps & (_CAP_VIDEO_CAPTURE | _CAP_VIDEO_CAPTURE_MPLANE)) and not (
        caps & (_CAP_VIDEO_M2M | _CAP_VIDEO_M2M_MPLANE)
    )
    return text(0, 16), text(16, 48), text(48, 80), capture


def v4l2_nodes(
    dev_dir: Path | str = "/dev", sys_dir: Path | str = "/sys/class/video4linux"
) -> list[V4L2Node]:
    """Every ``videoN`` node in ``dev_dir``, in numeric order. Never raises."""
    nodes = []
    try:
        entries = [p for p in Path(dev_dir).glob("video*") if re.fullmatch(r"video\d+", p.name)]
    except OSError:
        return []
    for dev in sorted(entries, key=lambda p: int(p.name[5:])):
        try:
            name = (Path(sys_dir) / dev.name / "name").read_text().strip()
        except OSError:
            name = ""
        try:
            driver, card, bus, capture = _querycap(str(dev))
            nodes.append(V4L2Node(str(dev), int(dev.name[5:]), name, driver, card, bus, capture))
        except OSError as exc:
            nodes.append(
                V4L2Node(str(dev), int(dev.name[5:]), name, query_error=exc.strerror or str(exc))
            )
    return nodes


def detect_cameras() -> list[str]:
    """One line per camera found, starting with the spec that opens it. Never raises.

    For ``soundscape doctor``; nothing is opened (V4L2 nodes are only
    queried), so a camera in use by another program is still listed.
    """
    found: list[str] = []
    try:
        for i, info in enumerate(pi_cameras()):
            model = info.get("Model", "unknown sensor")
            where = info.get("Id") or info.get("Location") or ""
            found.append(f"picamera2:{i} — Pi camera {model}" + (f" ({where})" if where else ""))
    except ImportError:
        pass
    except Exception as exc:  # libcamera errors are not typed
        log.debug("picamera2 could not list cameras: %s", exc)
    try:
        nodes = v4l2_nodes()
        found.extend(node.describe() for node in nodes if not node.skip_reason)
        if is_jetson():
            csi = [n for n in nodes if "vi-output" in n.name.lower()]
            note = "" if opencv_has_gstreamer() else " [OpenCV without GStreamer: cannot use it]"
            for k, node in enumerate(csi):
                spec = "gstreamer" if k == 0 else f"gstreamer:<pipeline with sensor-id={k}>"
                found.append(f"{spec} — Jetson CSI camera {node.name} (nvarguscamerasrc){note}")
    except Exception as exc:
        log.debug("V4L2 detection failed: %s", exc)
    return found


def _split(spec: str) -> tuple[str, str]:
    kind, _, arg = spec.strip().partition(":")
    return kind.strip().lower(), arg.strip()


def _need(arg: str, spec: str, what: str) -> str:
    if not arg:
        raise CameraError(f"camera spec {spec!r} needs {what}; valid specs: {SPEC_HELP}")
    return arg


def _make(
    spec: str,
    *,
    size: tuple[int, int],
    fps: float,
    slideshow_seconds: float,
    fallback_folder: Path | str,
) -> Camera:
    """The (unopened) camera a non-auto spec names."""
    kind, arg = _split(spec)
    capture_fps = max(float(fps), 15.0)
    if kind == "picamera2":
        if arg and not arg.isdigit():
            raise CameraError(f"camera spec {spec!r}: the camera number must be an integer")
        return PiCamera(size, camera_num=int(arg or 0), fps=capture_fps)
    if kind == "v4l2":
        return OpenCVCamera(_need(arg, spec, "a device"), backend="v4l2", size=size,
                            fps=capture_fps)
    if kind == "gstreamer":
        if not arg:
            return OpenCVCamera(jetson_csi_pipeline(0, size), backend="gstreamer", size=size,
                                fps=capture_fps, first_frame_timeout_s=5.0,
                                name="Jetson CSI camera 0")
        return OpenCVCamera(arg, backend="gstreamer", size=size, fps=capture_fps,
                            first_frame_timeout_s=5.0)
    if kind == "video":
        return VideoFileCamera(_need(arg, spec, "a file"), size=size, max_fps=fps)
    if kind == "slideshow":
        return SlideshowCamera(arg or fallback_folder, slideshow_seconds, size=size, max_fps=fps)
    raise CameraError(f"unknown camera spec {spec!r}; valid specs: {SPEC_HELP}")


def open_camera(
    spec: str = "auto",
    *,
    size: tuple[int, int] = DEFAULT_FRAME_SIZE,
    fps: float = 4.0,
    slideshow_seconds: float = 8.0,
    fallback_folder: Path | str = DEMO_MEDIA,
) -> Camera:
    """Open the camera ``spec`` names (see the module docstring) and return it, open.

    ``size`` is ``(width, height)`` in pixels; ``fps`` the frames per second
    the caller wants at most; ``slideshow_seconds`` how long each photo of a
    slideshow is shown. An explicit spec that fails raises
    :class:`CameraError` naming the spec; ``"auto"`` never fails while
    ``fallback_folder`` has photos.
    """
    if _split(spec)[0] == "auto":
        return _auto(size=size, fps=fps, slideshow_seconds=slideshow_seconds,
                     fallback_folder=fallback_folder)
    try:
        camera = _make(spec, size=size, fps=fps, slideshow_seconds=slideshow_seconds,
                       fallback_folder=fallback_folder)
        camera.open()
    except CameraError as exc:
        if repr(spec) in str(exc):
            raise
        raise CameraError(f"camera {spec!r}: {exc}") from exc
    return camera


def _auto(
    *, size: tuple[int, int], fps: float, slideshow_seconds: float, fallback_folder: Path | str
) -> Camera:
    capture_fps = max(float(fps), 15.0)
    why: list[str] = []  # why each step found nothing, for the warning

    # 1. Pi camera.
    try:
        infos = pi_cameras()
    except ImportError:
        why.append("picamera2 not installed")
        infos = []
    except Exception as exc:
        why.append(f"libcamera failed: {exc}")
        infos = []
    else:
        if not infos:
            why.append("libcamera sees no Pi camera")
    if infos:
        camera: Camera = PiCamera(size, camera_num=0, fps=capture_fps)
        try:
            camera.open()
            return camera
        except CameraError as exc:
            why.append(str(exc))
            log.info("auto camera: skipping the Pi camera: %s", exc)

    # 2. USB / V4L2.
    nodes = v4l2_nodes()
    candidates = [n for n in nodes if not n.skip_reason]
    for node in nodes:
        if node.skip_reason:
            log.debug("auto camera: skipping %s (%s): %s", node.path, node.name, node.skip_reason)
    if not candidates:
        why.append("no V4L2 capture device")
    else:
        try:
            import cv2  # noqa: F401
        except ImportError:
            why.append(f"{len(candidates)} V4L2 device(s) but OpenCV is not installed")
            candidates = []
    for node in candidates:
        camera = OpenCVCamera(node.path, backend="v4l2", size=size, fps=capture_fps)
        try:
            camera.open()
            return camera
        except CameraError as exc:
            why.append(str(exc))
            log.info("auto camera: skipping %s: %s", node.path, exc)

    # 3. Jetson CSI through GStreamer.
    if is_jetson():
        if opencv_has_gstreamer():
            camera = OpenCVCamera(jetson_csi_pipeline(0, size), backend="gstreamer", size=size,
                                  fps=capture_fps, name="Jetson CSI camera 0",
                                  first_frame_timeout_s=5.0)
            try:
                camera.open()
                return camera
            except CameraError as exc:
                why.append(str(exc))
                log.info("auto camera: skipping the Jetson CSI camera: %s", exc)
        else:
            why.append("Jetson, but OpenCV is missing or lacks GStreamer")

    # 4. The demo slideshow.
    try:
        camera = SlideshowCamera(fallback_folder, slideshow_seconds, size=size, max_fps=fps)
        camera.open()
    except CameraError as exc:
        raise CameraError(
            f"no camera found ({'; '.join(why)}) and the fallback slideshow failed: {exc}"
        ) from exc
    log.warning(
        "no camera found (%s); showing the %s instead", "; ".join(why), camera.description
    )
    return camera
