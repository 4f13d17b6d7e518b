"""A level for the street: the volume scale, full volume under the ceiling without clicks,
and cues level with the soundscape at every volume, on real recordings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from appliance import DEMO_MEDIA
from appliance.cues import CueBank, CueMixer, cue_gain
from appliance.media import decode_audio
from appliance.synth import GrainParams, Granulator, Source, measure_loudness
from appliance.synth.volume import (
    DEFAULT_VOLUME,
    FULL_VOLUME_LUFS,
    REFERENCE_LUFS,
    REFERENCE_VOLUME,
    full_volume_params,
    volume_lufs,
    volume_to_gain,
)

SR = 48000
BLOCK = 512
STEPS = [round(0.1 * k, 1) for k in range(1, 11)]


def render(g: Granulator, seconds: float, overlay=None) -> np.ndarray:
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    blocks = []
    for i in range(round(seconds * SR / BLOCK)):
        g.render(out, None if overlay is None else overlay(i))
        blocks.append(out.copy())
    return np.concatenate(blocks)


@pytest.fixture(scope="module")
def horn() -> Source:
    """The loudest peaks of the demo media: a ship's horn over the harbour."""
    horn = decode_audio(DEMO_MEDIA / "harbour" / "ship_horn.ogg", SR)
    dock = decode_audio(DEMO_MEDIA / "harbour" / "harbour_dock_1.ogg", SR)
    return Source.from_audio(np.concatenate([horn, dock[: 20 * SR]]), SR)


@pytest.fixture(scope="module")
def waterfall() -> Source:
    return Source.from_audio(decode_audio(DEMO_MEDIA / "waterfall" / "waterfall_1.ogg", SR), SR)


def test_the_volume_scale() -> None:
    # Full volume is the street level; the default plays where it always did.
    assert volume_to_gain(1.0) == 1.0 and volume_lufs(1.0) == FULL_VOLUME_LUFS >= -18.0
    old_default = -23.0 + 20 * math.log10(DEFAULT_VOLUME**2)  # the old squared law
    assert volume_lufs(DEFAULT_VOLUME) == pytest.approx(old_default)
    # Every press is the same step in dB, and 0 is silence.
    steps = np.diff([volume_lufs(v) for v in STEPS])
    assert np.allclose(steps, steps[0]) and 3.0 < steps[0] < 5.0
    assert volume_to_gain(0.0) == 0.0 and 0.0 < volume_to_gain(0.05) < volume_to_gain(0.1)
    assert volume_to_gain(2.0) == 1.0  # clamped
    assert volume_lufs(REFERENCE_VOLUME) == pytest.approx(REFERENCE_LUFS)


@pytest.mark.parametrize("name", ["horn", "waterfall"])
def test_full_volume_is_loud_under_the_ceiling_and_never_clicks(
    name: str, request: pytest.FixtureRequest
) -> None:
    source: Source = request.getfixturevalue(name)
    params = full_volume_params(GrainParams())
    g = Granulator(SR, BLOCK, params, seed=3)
    g.set_source(source, crossfade=False)
    k = source.keyframes
    cue = np.ascontiguousarray(CueBank(SR, speak=False).phrase("volume_max"))  # at full level
    chunks = -(-len(cue) // BLOCK)
    padded = np.zeros((chunks * BLOCK, 2), np.float32)
    padded[: len(cue)] = cue
    parts = [render(g, 4.0)]
    g.set_probability(np.eye(k)[0] + 1e-3)  # the horn (or the waterfall's start) alone
    parts.append(render(g, 3.0, lambda i: padded[i * BLOCK : (i + 1) * BLOCK] if i < chunks
                        else None))
    g.set_probability(np.ones(k))
    parts.append(render(g, 3.0))
    y = np.concatenate(parts)
    ceiling = 10 ** (params.limiter_ceiling_dbfs / 20)
    assert float(np.abs(y).max()) <= ceiling
    assert measure_loudness(y[SR:], SR) >= -18.0
    # No clicks: no sample step beyond three times the recording's own (at its gain).
    gain = 10 ** ((params.target_lufs - source.loudness_lufs) / 20)
    own = float(np.percentile(np.abs(np.diff(source.audio, axis=0)), 99.9)) * gain
    assert float(np.abs(np.diff(y, axis=0)).max()) < 3.0 * own


def test_cues_are_level_with_the_soundscape_at_every_volume(waterfall: Source) -> None:
    bank = CueBank(SR)  # with speech where espeak-ng is installed
    cues = {"earcon": bank.phrase("volume", text=""), "phrase": bank.phrase("camera_lost")}
    params = full_volume_params(GrainParams())
    for volume in STEPS:
        g = Granulator(SR, BLOCK, params, seed=1)
        g.set_source(waterfall, crossfade=False)
        g.set_volume(volume_to_gain(volume))
        bed = measure_loudness(render(g, 4.0)[SR:], SR)
        for what, cue in cues.items():
            mixer = CueMixer(level=cue_gain(volume))
            mixer.play(cue)
            heard = np.zeros((len(cue) + BLOCK, 2), np.float32)
            for i in range(0, len(heard) - BLOCK + 1, BLOCK):
                mixer.mix(heard[i : i + BLOCK])
            over = measure_loudness(heard, SR) - bed
            # Heard over the soundscape (which also ducks 6 dB under words), not shouting.
            assert -1.5 <= over <= 10.0, (volume, what, round(bed, 1), round(over, 1))
