"""The engine's parameters and the small rules the parts share (units in the names)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from appliance.synth.params import GrainParams

#: Seconds without a frame before the camera counts as stalled.
CAMERA_STALL_S = 3.0
#: Time constant (s) of the relaxation towards the corpus' overall p while blind.
BLIND_RELAX_S = 20.0
#: Gain applied to the soundscape while a cue speaks (about -6 dB) so words stay clear.
DUCK_GAIN = 0.5
#: Length (s) of the fade-out on stop; SIGTERM must exit within 1 s.
STOP_FADE_S = 0.3
#: The interpreter's GIL switch interval (s) while the engine runs. The render kernel
#: releases the GIL, but getting it back waits until the holder (the vision loop's NumPy
#: and Python code) is asked to drop it: 5 ms by default, half an audio block. 1 ms bounds
#: that wait; threads that do not contend are not affected.
GIL_SWITCH_INTERVAL_S = 0.001
#: The camera is reopened after 1 s, then 2, 4 ... at most 30 s while it stays away.
CAMERA_RETRY_FIRST_S = 1.0
CAMERA_RETRY_MAX_S = 30.0


#: Seconds between two lines in the log saying how many camera frames were embedded.
VISION_COUNTS_LOG_S = 60.0


@dataclass
class EngineSettings:
    """Engine parameters (seconds, frames, Hz); built from the config by ``soundscape run``."""

    sample_rate: int = 48000
    block_size: int = 512
    sample_format: str = "S16_LE"
    vision_fps: float = 4.0
    volume_step: float = 0.1
    timer_choices_min: Sequence[int] = (0, 15, 30, 60)
    timer_fade_s: float = 60.0
    seed: int = 0
    #: How far (0–1 of the stereo field) a sound is panned by where its match is in the
    #: camera frame: a keyframe seen at the frame's left edge plays at -pan_width.
    pan_width: float = 0.8
    params: GrainParams = field(default_factory=GrainParams)
    #: Vision that rests (:mod:`appliance.vision.change`, ``[vision]``): grey levels of 255
    #: for the thresholds, seconds for the refresh and the smoothing of still refreshes.
    change_threshold: float = 8.0
    settle_threshold: float = 4.0
    refresh_s: float = 12.0
    still_smoothing_s: float = 10.0
