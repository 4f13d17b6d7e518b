"""The volume buttons' scale: from the wearer's volume (0–1) to loudness.

Full volume (1.0) plays every corpus at :data:`FULL_VOLUME_LUFS` (integrated, EBU R128),
the level portable players and phones play music at, so the box can be heard through
weak headphones or a bone-conduction set in traffic. Each volume step of 0.1 is the
same number of dB (:data:`DB_PER_STEP`), so every press sounds like the same change,
and the default volume (:data:`DEFAULT_VOLUME`) plays at the level it always did,
comfortable indoors (−23 LUFS × 0.6², the old squared law: about −31.9 LUFS). Below the
lowest step (0.1) the gain goes linearly to silence at 0.

The synthesizer plays at ``GrainParams.target_lufs`` with a master gain of 1, so the
appliance runs it with ``target_lufs = FULL_VOLUME_LUFS`` (:func:`full_volume_params`)
and sets its master gain to :func:`volume_to_gain`. Offline renders keep the
broadcast reference (−23 LUFS, ``GrainParams``' default) at gain 1: that is volume
:data:`REFERENCE_VOLUME` on this scale.
"""

from __future__ import annotations

import math
from dataclasses import replace

from appliance.synth.params import GrainParams

#: Loudness of every corpus at full volume, LUFS (integrated). At least −18 (the
#: street goal); the limiter stays transparent there (see scripts/bench: ``level``).
FULL_VOLUME_LUFS = -14.0
#: The broadcast reference (EBU R128) offline renders are made at, LUFS.
REFERENCE_LUFS = -23.0
#: The volume of a first start (the config's ``volume.initial`` default).
DEFAULT_VOLUME = 0.6
#: Loudness at the default volume, LUFS: what the box always played there
#: (−23 LUFS at full volume, gain = volume², so 0.36 at 0.6).
DEFAULT_VOLUME_LUFS = REFERENCE_LUFS + 20.0 * math.log10(DEFAULT_VOLUME**2)
#: Below this volume the gain falls linearly to silence at 0.
LOWEST_STEP = 0.1
#: dB per 0.1 of volume: equal steps from the default level up to full volume.
DB_PER_STEP = (FULL_VOLUME_LUFS - DEFAULT_VOLUME_LUFS) / ((1.0 - DEFAULT_VOLUME) / 0.1)


def volume_to_gain_db(volume: float) -> float:
    """Master gain at ``volume`` (0–1, clamped), dB relative to full volume; −inf at 0."""
    v = min(max(float(volume), 0.0), 1.0)
    if v <= 0.0:
        return -math.inf
    if v >= LOWEST_STEP:
        return (v - 1.0) / 0.1 * DB_PER_STEP
    return (LOWEST_STEP - 1.0) / 0.1 * DB_PER_STEP + 20.0 * math.log10(v / LOWEST_STEP)


def volume_to_gain(volume: float) -> float:
    """Master gain (linear, 0–1) for the user's ``volume`` (0–1, clamped): 1 at full
    volume, :data:`DB_PER_STEP` dB less per 0.1 below it, 0 at 0."""
    db = volume_to_gain_db(volume)
    return 0.0 if db == -math.inf else 10.0 ** (db / 20.0)


def volume_lufs(volume: float, full_lufs: float = FULL_VOLUME_LUFS) -> float:
    """The soundscape's loudness at ``volume``, LUFS (−inf at 0), for a corpus that plays
    at ``full_lufs`` at full volume."""
    return full_lufs + volume_to_gain_db(volume)


#: The volume at which the appliance plays at the broadcast reference (about 0.82).
REFERENCE_VOLUME = 1.0 + (REFERENCE_LUFS - FULL_VOLUME_LUFS) / DB_PER_STEP * 0.1


def full_volume_params(params: GrainParams) -> GrainParams:
    """``params`` with the loudness target set for this volume scale (full volume =
    :data:`FULL_VOLUME_LUFS`)."""
    return replace(params, target_lufs=FULL_VOLUME_LUFS)
