"""Audio sinks: ALSA (pyalsaaudio), a WAV file, and a paced real-time sink.

Every sink implements :class:`~appliance.audio.base.AudioSink`;
:func:`open_sink` picks one from a spec string (``"auto"`` falls back to the
paced sink when there is no sound card) and :func:`list_alsa_devices` lists
the cards. pyalsaaudio is imported only when an ALSA sink is opened.
"""

from appliance.audio.alsa import AlsaSink, list_alsa_devices
from appliance.audio.base import AudioSink
from appliance.audio.factory import open_sink
from appliance.audio.paced import PacedSink
from appliance.audio.retry import RetryingSink
from appliance.audio.wav import WavSink

__all__ = [
    "AlsaSink",
    "AudioSink",
    "PacedSink",
    "RetryingSink",
    "WavSink",
    "list_alsa_devices",
    "open_sink",
]
