"""Choose and open an audio sink from a one-line spec (as in the config file or ``--audio``).

Specs:

``"auto"``
    ALSA's ``default`` device when pyalsaaudio imports and ``/proc/asound/cards``
    lists a card; otherwise a warning ("no sound card found; ...") and a
    :class:`~appliance.audio.paced.PacedSink` that consumes the audio in real
    time, recording it to ``wav_path`` when one is given.
``"alsa:<pcm name>"``
    an ALSA device, e.g. ``alsa:default``, ``alsa:plughw:CARD=Device``
    (everything after the first colon is the name).
``"wav:<path>"``
    a WAV file, written as fast as the audio is made (offline rendering).
``"paced"``
    the real-time paced sink (recording to ``wav_path`` if given).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from appliance.audio.alsa import AlsaSink, proc_asound_cards
from appliance.audio.base import AudioSink
from appliance.audio.paced import PacedSink
from appliance.audio.retry import RecoverCallback, RetryCallback, RetryingSink
from appliance.audio.wav import WavSink
from appliance.errors import AudioDeviceError

log = logging.getLogger(__name__)

SPEC_HELP = "auto, alsa:<pcm name>, wav:<path> or paced"


def open_sink(
    spec: str = "auto",
    *,
    sample_rate: int = 48000,
    block_size: int = 512,
    periods: int = 4,
    sample_format: str = "S16_LE",
    wav_path: str | os.PathLike[str] | None = None,
    on_retry: RetryCallback | None = None,
    on_recover: RecoverCallback | None = None,
) -> AudioSink:
    """Open the sink ``spec`` names (see the module docstring) and return it, open.

    ``sample_rate`` in Hz, ``block_size`` in frames per block, ``periods``
    blocks of buffering (ALSA's periods; the paced sink's buffer).

    With ``on_retry`` (or ``on_recover``), ALSA sinks come wrapped in a
    :class:`~appliance.audio.retry.RetryingSink`: a missing or vanishing
    card is reported through the callbacks and retried with backoff, and
    never raises. Without them, a failing ALSA device raises
    :class:`AudioDeviceError` naming the spec.
    """
    kind, _, arg = spec.strip().partition(":")
    kind, arg = kind.strip().lower(), arg.strip()
    if kind == "auto":
        device, why = _auto_device()
        if device is None:
            return _fallback(why, sample_rate, block_size, periods, sample_format, wav_path)
        kind, arg = "alsa", device
    if kind == "alsa":
        device = arg or "default"

        def make() -> AlsaSink:
            return AlsaSink(device, sample_rate, block_size, periods, sample_format)

        sink: AudioSink
        if on_retry is not None or on_recover is not None:
            sink = RetryingSink(make, on_retry=on_retry, on_recover=on_recover)
            sink.open()
            return sink
        sink = make()
    elif kind == "wav":
        if not arg:
            raise AudioDeviceError(f"audio spec {spec!r} needs a file: wav:<path>")
        sink = WavSink(Path(arg), sample_rate, block_size, sample_format)
    elif kind == "paced":
        if arg:
            raise AudioDeviceError(f"audio spec {spec!r}: 'paced' takes no argument")
        sink = PacedSink(sample_rate, block_size, periods, wav_path, sample_format=sample_format)
    else:
        raise AudioDeviceError(f"unknown audio spec {spec!r}; valid specs: {SPEC_HELP}")
    try:
        sink.open()
    except AudioDeviceError as exc:
        raise AudioDeviceError(f"audio {spec!r}: {exc}") from exc
    return sink


def _auto_device() -> tuple[str | None, str]:
    """``("default", "")`` when ALSA playback should work, else ``(None, why not)``."""
    try:
        import alsaaudio  # noqa: F401
    except ImportError:
        return None, "pyalsaaudio is not installed"
    if not proc_asound_cards():
        return None, "/proc/asound/cards lists no sound card"
    return "default", ""


def _fallback(
    why: str,
    sample_rate: int,
    block_size: int,
    periods: int,
    sample_format: str,
    wav_path: str | os.PathLike[str] | None,
) -> AudioSink:
    sink = PacedSink(sample_rate, block_size, periods, wav_path, sample_format=sample_format)
    sink.open()
    where = f"writing to {wav_path} in real time" if wav_path else "the audio is discarded"
    log.warning("no sound card found (%s); %s (%s)", why, where, sink.description)
    return sink


def sound_card_present() -> bool:
    """True when ``open_sink("auto")`` would play through ALSA (pyalsaaudio and a card)."""
    return _auto_device()[0] is not None
