"""Saying out loud why the appliance cannot start.

A wearer has no screen: a config typo, a missing model or a card full of broken
corpora would otherwise leave the box silent with the reason in a log nobody
reads. Before ``soundscape run`` gives up it plays the "problem" earcon and a
short spoken reason on the sound output it would have used, then exits as
before (systemd retries a few times, and each try says it again).
"""

from __future__ import annotations

import contextlib
import logging

from appliance.errors import (
    AudioDeviceError,
    ConfigError,
    CorpusError,
    ModelError,
    RuntimeMissingError,
    SoundscapeError,
)

log = logging.getLogger(__name__)

#: What the wearer hears for each kind of failure (the details are in the log and in
#: ``soundscape doctor``, which a helper can read out).
REASONS: tuple[tuple[type[SoundscapeError], str], ...] = (
    (ConfigError, "the settings file has a mistake"),
    (ModelError, "the image model is missing or damaged"),
    (RuntimeMissingError, "a part of its software is missing"),
    (CorpusError, "none of its sound collections could be loaded"),
)
GENERIC_REASON = "something is wrong"


def spoken_message(exc: BaseException) -> str:
    """The sentence spoken for ``exc``: what failed, in plain words, and what to do."""
    reason = next((text for kind, text in REASONS if isinstance(exc, kind)), GENERIC_REASON)
    return f"The soundscape cannot start: {reason}. Please ask a helper to run soundscape doctor."


def announce_fatal(
    exc: BaseException,
    device: str = "auto",
    *,
    sample_rate: int = 48000,
    block_size: int = 512,
    volume: float | None = None,
) -> bool:
    """Play the problem earcon and :func:`spoken_message` on ``device`` (an audio spec),
    at the cues' level for ``volume`` (0–1; None: the first start's volume, since the
    saved one may be what cannot be read).

    Returns True when it was played. Never raises: with no sound card (``auto`` without
    one, ``paced``) or a device that does not open, it logs why and returns False.
    """
    from appliance.audio.factory import open_sink, sound_card_present
    from appliance.cues import CueBank, cue_gain
    from appliance.synth.source import to_pcm
    from appliance.synth.volume import DEFAULT_VOLUME

    kind = device.partition(":")[0].strip().lower()
    if kind == "paced" or (kind == "auto" and not sound_card_present()):
        log.info("no sound card to say why the appliance cannot start")
        return False
    text = spoken_message(exc)
    try:
        cue = CueBank(sample_rate).phrase("problem", text)
        sink = open_sink(device, sample_rate=sample_rate, block_size=block_size)
    except (SoundscapeError, OSError) as err:
        log.warning("could not say why the appliance cannot start (%s)", err)
        return False
    try:
        level = cue_gain(DEFAULT_VOLUME if volume is None else volume)
        pcm = to_pcm(cue * level).reshape(-1)  # interleaved int16, as the sink takes it
        step = 2 * block_size
        for i in range(0, pcm.size, step):
            sink.write(pcm[i : i + step])
    except AudioDeviceError as err:
        log.warning("could not finish saying why the appliance cannot start (%s)", err)
        return False
    finally:
        with contextlib.suppress(AudioDeviceError):
            sink.close()
    log.info("said: %s", text)
    return True
