"""Is this an NVIDIA Jetson, and which camera path does it have (for ``soundscape doctor``)?

On a Jetson the CSI camera (IMX219, IMX477, ...) is read through GStreamer's
``nvarguscamerasrc``, which needs an OpenCV built with GStreamer: JetPack's own, for the
system Python (``/usr/lib/python3/dist-packages``); the PyPI wheels have no GStreamer.
``scripts/install-pi`` makes the venv with ``--system-site-packages`` so that it sees
JetPack's OpenCV; a USB webcam (V4L2) works with any OpenCV and is the fallback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Files that exist only on a Jetson (L4T).
JETSON_MARKERS = (Path("/dev/nvhost-ctrl"), Path("/etc/nv_tegra_release"))
#: The device tree's model line (e.g. "NVIDIA Jetson Orin Nano Developer Kit").
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


def is_jetson(markers: Sequence[Path] = JETSON_MARKERS) -> bool:
    """Whether this is an NVIDIA Jetson (L4T). Never raises."""
    try:
        return any(p.exists() for p in markers)
    except OSError:
        return False


def jetson_model(model_file: Path = DEVICE_TREE_MODEL) -> str:
    """The board's name from the device tree, or ``""``. Never raises."""
    try:
        return model_file.read_bytes().rstrip(b"\0\n").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _import_cv2() -> Any:
    import cv2

    return cv2


def csi_sensors(dev_dir: Path = Path("/dev"), sys_dir: Path = Path("/sys/class/video4linux")
                ) -> list[str]:
    """Names of the Jetson's CSI capture nodes (``vi-output, imx219 9-0010``), in order."""
    names = []
    try:
        nodes = sorted(dev_dir.glob("video[0-9]*"), key=lambda p: int(p.name[5:]))
    except (OSError, ValueError):
        return []
    for node in nodes:
        try:
            name = (sys_dir / node.name / "name").read_text().strip()
        except OSError:
            continue
        if "vi-output" in name:
            names.append(name)
    return names


def jetson_camera_path(
    *,
    markers: Sequence[Path] = JETSON_MARKERS,
    dev_dir: Path = Path("/dev"),
    sys_dir: Path = Path("/sys/class/video4linux"),
    import_cv2: Any = _import_cv2,
) -> str:
    """One line: the camera path a Jetson has, or ``""`` when this is not a Jetson.

    Says which OpenCV the appliance imports (JetPack's, from the system site packages,
    or another), whether it has GStreamer, whether a CSI sensor is there, and so which
    camera ``auto`` will use: the CSI camera through GStreamer, or a USB webcam. Never
    raises. (For the doctor's camera check.)
    """
    if not is_jetson(markers):
        return ""
    sensors = csi_sensors(dev_dir, sys_dir)
    sensor_text = f"CSI sensor {sensors[0]}" if sensors else "no CSI sensor found"
    try:
        cv2 = import_cv2()
    except Exception as exc:  # ImportError, or a broken build's own error
        return (f"Jetson: OpenCV does not import ({type(exc).__name__}: {exc}); {sensor_text}; "
                "no camera works: install JetPack's OpenCV (sudo apt install nvidia-opencv) "
                "and make the venv with --system-site-packages (scripts/install-pi does)")
    where = str(getattr(cv2, "__file__", "") or "")
    origin = ("JetPack's (system site packages)" if where.startswith("/usr/lib/python3")
              else f"from {where or 'an unknown place'}")
    try:
        info = cv2.getBuildInformation()
    except Exception:
        info = ""
    has_gst = bool(re.search(r"GStreamer:\s*YES", info))
    version = getattr(cv2, "__version__", "?")
    if has_gst and sensors:
        return (f"Jetson: CSI camera through GStreamer (nvarguscamerasrc), {sensor_text}, "
                f"OpenCV {version} {origin}; a USB webcam is used first when one is plugged in")
    if has_gst:
        return (f"Jetson: OpenCV {version} {origin} has GStreamer but {sensor_text} "
                "(ribbon cable seated? camera overlay chosen with jetson-io?): "
                "a USB webcam is the camera")
    return (f"Jetson: OpenCV {version} {origin} has no GStreamer, so the CSI camera cannot "
            f"be read ({sensor_text}); a USB webcam is the camera. For the CSI camera use "
            "JetPack's OpenCV: remove opencv-python from the venv, and make the venv with "
            "--system-site-packages (scripts/install-pi does)")
