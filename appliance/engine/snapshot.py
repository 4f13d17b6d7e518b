"""What the engine looks like now, for the live view and the health report.

Importing this module imports neither Numba nor the synthesizer, so the view's tests
use the real class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Seconds of vision timestamps the frame rate is measured over.
VISION_RATE_WINDOW_S = 5.0


@dataclass(frozen=True)
class Snapshot:
    """The engine's state, replaced whole (readers never see a torn state).

    ``top``: the most likely keyframes, each ``(time_s, scene, distance, pan)``;
    ``vision_fps`` in frames per second, ``inference_ms`` in milliseconds;
    ``max_block_render_ratio``: the longest block's render time over its duration;
    ``frames_read``: camera frames the change detector looked at, ``frames_embedded``:
    how many of them it sent to the model (``frames_seen``: embedded and matched).
    """

    corpus_index: int = -1
    corpus_name: str = ""
    volume: float = 0.0
    muted: bool = False
    timer_min: int = 0
    sleeping: bool = False
    camera: str = ""
    camera_ok: bool = False
    frame: np.ndarray | None = None
    p: np.ndarray | None = None
    top: tuple[tuple[float, str, float, float], ...] = ()
    vision_fps: float = 0.0
    inference_ms: float = 0.0
    frames_seen: int = 0
    frames_read: int = 0
    frames_embedded: int = 0
    xruns: int = 0
    deadline_misses: int = 0
    blocks: int = 0
    max_block_render_ratio: float = 0.0
    grains_dropped: int = 0

    @property
    def embedded_share(self) -> float:
        """The share (0–1) of the camera frames looked at that were embedded."""
        return self.frames_embedded / self.frames_read if self.frames_read else 0.0


def frame_rate(times: Sequence[float], now: float) -> float:
    """Frames per second over the monotonic ``times`` (seconds, oldest first); 0 if < 2."""
    if len(times) > 1 and now - times[0] > 0 and times[-1] > times[0]:
        return (len(times) - 1) / (times[-1] - times[0])
    return 0.0
