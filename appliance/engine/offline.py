"""Offline rendering: the same engine, vision run synchronously on a simulated camera.

The vision step runs at simulated times ``k / vision_fps`` on ``camera.frame_at(t)``
(seconds), between the blocks it falls before, so a render is deterministic for a
seed and as fast as the machine allows. Each frame goes through the change detector
as live (vision that rests, on the simulated clock): an embedding takes no simulated
time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from appliance.audio.base import AudioSink
from appliance.camera.base import SimulatedCamera

if TYPE_CHECKING:
    from appliance.engine.core import Engine


def render_offline(
    engine: Engine,
    camera: SimulatedCamera,
    seconds: float,
    sink: AudioSink,
    on_vision: Callable[[float, np.ndarray], None] | None = None,
) -> None:
    """Render ``seconds`` of audio to ``sink`` with vision at ``vision_fps`` on ``camera``;
    ``on_vision(t_s, p)`` sees the p in force at each frame (embedded or kept)."""
    engine.controller.start_corpus()
    audio = engine.audio
    sr, bs = engine.settings.sample_rate, engine.settings.block_size
    period = 1.0 / engine.settings.vision_fps
    next_vision = 0.0
    sink.open()
    try:
        for i in range(int(np.ceil(seconds * sr / bs))):
            t = i * bs / sr
            if t >= next_vision:
                p = engine.vision.consider(camera.frame_at(t), t)
                if on_vision is not None and p is not None:
                    on_vision(t, p)
                next_vision += period
            sink.write(audio.process())
    finally:
        sink.close()
