"""Cameras: Pi camera (picamera2), USB/V4L2 and GStreamer (OpenCV), and simulated ones.

Every camera implements :class:`~appliance.camera.base.Camera`;
:func:`open_camera` picks one from a spec string (``"auto"`` falls back to a
slideshow of the demo photos when no camera is found) and
:func:`detect_cameras` lists what is connected. Hardware libraries are
imported only when a camera is opened.
"""

from appliance.camera.base import Camera, SimulatedCamera
from appliance.camera.factory import detect_cameras, open_camera
from appliance.camera.simulated import SlideshowCamera, VideoFileCamera

__all__ = [
    "Camera",
    "SimulatedCamera",
    "SlideshowCamera",
    "VideoFileCamera",
    "detect_cameras",
    "open_camera",
]
