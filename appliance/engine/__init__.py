"""The engine: the audio loop, the vision loop and the controller around the synthesizer.

One file per part, each with one job:

* :mod:`~appliance.engine.audio` — the **audio loop**: renders a block, mixes cues over
  it, writes it to the sink, fades out on stop. It never waits on vision, a lock or
  I/O other than the sink; what it plays next is *prepared* on the thread that asks
  (a corpus switch on the control thread, a new p on the vision thread) and only
  swapped in between two blocks.
* :mod:`~appliance.engine.vision` — the **vision loop**: camera lifecycle (one
  "lost" path, one backoff), embed, match, publish p. When the camera fails or
  stalls the sound goes on: p relaxes slowly towards the corpus' overall
  distribution and the wearer hears a distinct cue.
* :mod:`~appliance.engine.controller` — the **controller**: actions from buttons,
  keys and signals become state, cues, the sleep timer and atomic state-file writes.
* :mod:`~appliance.engine.offline` — **offline rendering**: the same parts with the
  vision step run synchronously on a simulated camera (deterministic for a seed).
* :mod:`~appliance.engine.snapshot` — what the engine looks like now (importable
  without Numba); :mod:`~appliance.engine.settings` — its parameters.
* :mod:`~appliance.engine.core` — :class:`Engine`, the thin wiring of the above.
"""

from appliance.engine.controller import SHUTDOWN_FAILED, timer_text
from appliance.engine.core import Engine
from appliance.engine.settings import (
    BLIND_RELAX_S,
    CAMERA_STALL_S,
    DUCK_GAIN,
    GIL_SWITCH_INTERVAL_S,
    STOP_FADE_S,
    EngineSettings,
)
from appliance.engine.snapshot import Snapshot
from appliance.engine.vision import LoadedCorpus
from appliance.synth.volume import volume_to_gain

__all__ = [
    "BLIND_RELAX_S",
    "CAMERA_STALL_S",
    "DUCK_GAIN",
    "GIL_SWITCH_INTERVAL_S",
    "SHUTDOWN_FAILED",
    "STOP_FADE_S",
    "Engine",
    "EngineSettings",
    "LoadedCorpus",
    "Snapshot",
    "timer_text",
    "volume_to_gain",
]
