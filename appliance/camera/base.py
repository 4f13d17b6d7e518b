"""The small interface every camera implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

#: Default capture size (width, height) in pixels. The model sees a 224×224 centre
#: square, so a frame 224 pixels high loses nothing: the camera's own scaler (the Pi's
#: ISP, the Jetson's VIC) does the whole downscale in hardware and the embedder only
#: crops (a webcam without such a mode grants its nearest one, e.g. 320×240, and the
#: embedder resizes that: 0.5 ms here, against 1.0 ms for 640×480; see scripts/bench).
DEFAULT_FRAME_SIZE = (320, 224)


class Camera(Protocol):
    """A source of RGB frames.

    ``read`` returns the newest frame (H×W×3 uint8, RGB order) or ``None`` when
    no new frame arrived within ``timeout_s``; it raises
    :class:`appliance.errors.CameraError` when the device is gone, after which
    the caller closes it and opens it again with backoff.

    ``open`` is harmless on an open camera and ``close`` on a closed one;
    :func:`appliance.camera.open_camera` returns cameras already open.
    """

    description: str

    def open(self) -> None: ...

    def read(self, timeout_s: float = 1.0) -> np.ndarray | None: ...

    def close(self) -> None: ...


class SimulatedCamera(Camera, Protocol):
    """A camera whose picture is a pure function of time (video file, slideshow).

    ``frame_at(t_s)`` gives the frame shown ``t_s`` seconds after the start,
    which makes offline rendering (``soundscape render``) deterministic.
    """

    def frame_at(self, t_s: float) -> np.ndarray: ...

    def label_at(self, t_s: float) -> str: ...
