"""Cameras that ship in the package: a slideshow of photos, a video file, and faults.

One file per role: ``pacing.py`` (real-time ``read`` over ``frame_at``),
``slideshow.py`` (photos and their pan-and-zoom), ``video.py`` (a video file),
``faults.py`` (the simulated unplug, and :class:`FaultyCamera` around any camera).


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

from appliance.camera.simulated.faults import FaultyCamera, Unplug
from appliance.camera.simulated.pacing import PacedCamera
from appliance.camera.simulated.slideshow import SlideshowCamera
from appliance.camera.simulated.video import VideoFileCamera

__all__ = ["FaultyCamera", "PacedCamera", "SlideshowCamera", "Unplug", "VideoFileCamera"]
