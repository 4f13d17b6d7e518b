"""Granular synthesizer: parameters, sources, loudness measure and API contracts."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from appliance import PROJECT_ROOT
from appliance.synth import (
    LOUDNESS_FLOOR_LUFS,
    GrainParams,
    Granulator,
    Source,
    measure_loudness,
    warm_up,
)
from appliance.synth.source import to_pcm

SR = 48000


def sine(freq: float, seconds: float, amplitude: float = 1.0, sr: int = SR) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(round(seconds * sr)) / sr)


def noise_source(seconds: float = 3.0, channels: int = 2) -> Source:
    rng = np.random.default_rng(0)
    return Source.from_audio(0.1 * rng.standard_normal((round(seconds * SR), channels)), SR)


# --- GrainParams --------------------------------------------------------------------------


def test_defaults_are_the_papers() -> None:
    p = GrainParams()
    p.validate()
    assert (p.grain_min_s, p.grain_max_s, p.grains_per_s) == (0.050, 0.100, 100.0)
    assert p.pitch_jitter_semitones == 0.0
    assert p.crossfade_s == 1.5 and p.p_smoothing_s == 0.5
    assert p.limiter_ceiling_dbfs == -1.0 and p.max_voices == 64
    # 5–10 grains overlap: rate × mean duration = 7.5, weighted by the Tukey window energy.
    assert p.expected_overlap() == pytest.approx(7.5 * (1 - 0.625 * 0.5))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("grain_min_s", 0.0),
        ("grain_max_s", 5.0),
        ("grains_per_s", -1.0),
        ("onset_jitter", 1.5),
        ("attack_release", float("nan")),
        ("pan_spread", -0.1),
        ("pitch_jitter_semitones", 24.0),
        ("p_smoothing_s", -1.0),
        ("crossfade_s", 100.0),
        ("volume_ramp_s", 0.0),
        ("target_lufs", 3.0),
        ("limiter_ceiling_dbfs", 1.0),
        ("max_voices", 0),
        ("max_voices", 8.0),
        ("grains_per_s", True),
    ],
)
def test_validate_names_the_field_and_its_range(field: str, value: object) -> None:
    params = dataclasses.replace(GrainParams(), **{field: value})
    with pytest.raises(ValueError, match=rf"GrainParams\.{field} must be in \["):
        params.validate()


def test_grain_max_below_min_is_rejected() -> None:
    with pytest.raises(ValueError, match="grain_max_s"):
        GrainParams(grain_min_s=0.08, grain_max_s=0.06).validate()


def test_granulator_validates_its_arguments() -> None:
    with pytest.raises(ValueError, match="block_size"):
        Granulator(block_size=32)
    with pytest.raises(ValueError, match="block_size"):
        Granulator(block_size=4096)
    with pytest.raises(ValueError, match="sample_rate"):
        Granulator(sample_rate=1000)
    with pytest.raises(ValueError, match="onset_jitter"):
        Granulator(params=GrainParams(onset_jitter=2.0))


# --- Source -------------------------------------------------------------------------------


def test_source_from_audio_converts_and_measures() -> None:
    s = Source.from_audio(sine(440, 2.5, 0.5), SR)
    assert s.audio.dtype == np.float32 and s.audio.shape == (round(2.5 * SR), 1)
    assert s.audio.flags.c_contiguous
    assert np.array_equal(s.keyframe_times, [0.0, 1.0, 2.0])
    assert s.keyframes == 3 and s.channels == 1 and s.frames == round(2.5 * SR)
    assert s.loudness_lufs == pytest.approx(measure_loudness(s.audio, SR))


@pytest.mark.parametrize(
    ("audio", "times", "message"),
    [
        (np.zeros((10, 2)), np.array([0.0]), "int16 or float32"),
        (np.zeros((10, 2), np.int32), np.array([0.0]), "int16 or float32"),
        (np.zeros(10, np.int16), np.array([0.0]), "int16 or float32"),
        (np.zeros((10, 3), np.int16), np.array([0.0]), "1 or 2 channels"),
        (np.zeros((10, 2), np.int16)[::2], np.array([0.0]), "C-contiguous"),
        (np.zeros((10, 3), np.float32), np.array([0.0]), "1 or 2 channels"),
        (np.zeros((10, 2), np.float32)[::2], np.array([0.0]), "C-contiguous"),
        (np.full((10, 1), np.nan, np.float32), np.array([0.0]), "NaN"),
        (np.zeros((10, 1), np.float32), np.array([0.5, 1.0]), "start at 0.0"),
        (np.zeros((10, 1), np.float32), np.array([0.0, 1.0, 1.0]), "strictly ascend"),
        (np.zeros((10, 1), np.float32), np.array([0, 1]), "float64"),
    ],
)
def test_source_rejects_bad_inputs(audio: np.ndarray, times: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Source(audio, times, -23.0)


def test_int16_sources_are_used_in_place_and_float32_ones_quantized() -> None:
    pcm = np.array([[-32768, 32767], [0, 1], [-1, 16384]], dtype=np.int16)
    s = Source(pcm, np.array([0.0]), -23.0)
    assert s.audio is pcm and s.pcm.base is pcm and np.array_equal(s.pcm, pcm)
    f = Source(pcm / np.float32(32768.0), np.array([0.0]), -23.0)
    assert f.audio.dtype == np.float32 and f.pcm.dtype == np.int16
    assert np.array_equal(f.pcm, pcm)  # x · 32768 rounds back exactly
    over = np.array([[1.0, -1.5], [0.49999, 3e-5]], np.float32)
    assert np.array_equal(to_pcm(over), [[32767, -32768], [16384, 1]])  # clipped, rounded
    read_only = np.zeros((SR, 2), np.int16)
    read_only.flags.writeable = False
    s = Source.from_audio(read_only, SR, loudness_lufs=-30.0)
    assert s.audio is read_only and np.shares_memory(s.pcm, read_only)
    line = np.arange(-3, 3, dtype=np.int16)
    mono = Source.from_audio(line, SR, loudness_lufs=-30.0)
    assert mono.pcm.shape == (6, 1) and np.shares_memory(mono.pcm, line)


def test_int16_loudness_is_measured_at_full_scale_32768() -> None:
    tone = sine(997, 3.0, 0.5)
    pcm = np.rint(tone * 32768.0).astype(np.int16)
    assert measure_loudness(pcm, SR) == pytest.approx(measure_loudness(tone, SR), abs=1e-3)
    s = Source.from_audio(pcm, SR)
    assert s.audio is not None and s.audio.dtype == np.int16
    assert s.loudness_lufs == pytest.approx(-3.01 - 6.02, abs=0.03)


def test_from_corpus_takes_the_corpus_audio_and_figures() -> None:
    times = np.array([0.0, 1.0])
    for channels, lufs in ((2, -20.0), (1, -20.0 - 10.0 * math.log10(2.0))):
        pcm = np.zeros((2 * SR, channels), np.int16)
        pcm.flags.writeable = False
        corpus = SimpleNamespace(audio=pcm, keyframe_times=times, loudness_lufs=-20.0,
                                 keyframe_loudness_lufs=None)
        s = Source.from_corpus(corpus)
        assert s.audio is pcm and np.shares_memory(s.pcm, pcm)
        assert np.array_equal(s.keyframe_times, times) and s.keyframe_times.dtype == np.float64
        # The manifest figure is for the audio as stereo: a mono corpus plays as mono.
        assert s.loudness_lufs == pytest.approx(lufs)


@pytest.mark.parametrize("channels", [1, 2])
def test_int16_samples_play_at_full_scale_32768(channels: int) -> None:
    # A constant source and one 100 ms grain with pan and pitch fixed: in the grain's flat
    # middle the output is sample / 32768 × overlap gain × pan (loudness gain 1, no limiting).
    params = GrainParams(grain_min_s=0.1, grain_max_s=0.1, grains_per_s=1.0, onset_jitter=0.0,
                         pan_spread=0.0, attack_release=0.5)
    gain = 1.0 / math.sqrt(params.expected_overlap()) * (math.sqrt(2.0) if channels == 2 else 1.0)
    expected = 2048 / 32768 * gain * math.cos(math.pi / 4.0)
    pcm = np.full((SR, channels), 2048, np.int16)
    for source in (Source(pcm, np.array([0.0]), -23.0),
                   Source(pcm / np.float32(32768.0), np.array([0.0]), -23.0)):
        g = Granulator(params=params)
        g.set_source(source, crossfade=False)
        out = np.zeros((512, 2), dtype=np.float32)
        y = []
        for _ in range(10):
            g.render(out)
            y.append(out.copy())
        flat = np.concatenate(y)[round(0.03 * SR) : round(0.07 * SR)]
        assert np.allclose(flat, expected, rtol=1e-6, atol=0.0), (flat.min(), expected)


def test_keyframes_must_lie_inside_the_audio() -> None:
    s = Source(np.zeros((SR, 1), np.float32), np.array([0.0, 0.5, 1.0]), -23.0)
    with pytest.raises(ValueError, match="last keyframe"):
        Granulator().set_source(s)


# --- loudness (ITU-R BS.1770-4 / EBU R128) ----------------------------------------------


def test_full_scale_sine_reads_minus_3_lufs() -> None:
    tone = sine(997, 5.0)
    assert measure_loudness(tone, SR) == pytest.approx(-3.01, abs=0.02)
    left_only = np.stack([tone, np.zeros_like(tone)], axis=1)
    assert measure_loudness(left_only, SR) == pytest.approx(-3.01, abs=0.02)
    assert measure_loudness(sine(997, 5.0, sr=44100), 44100) == pytest.approx(-3.01, abs=0.02)
    # Both channels carry it: +3 dB (channel weights 1).
    both = np.stack([tone, tone], axis=1)
    assert measure_loudness(both, SR) == pytest.approx(0.0, abs=0.02)
    # K-weighting: 100 Hz reads lower than 1 kHz at the same level, 4 kHz higher.
    assert measure_loudness(sine(100, 5.0), SR) < -3.5
    assert measure_loudness(sine(4000, 5.0), SR) > -2.0


def test_gating_ignores_silence_and_scales_with_level() -> None:
    tone = sine(997, 4.0, 10 ** (-20 / 20))
    with_gaps = np.concatenate([tone, np.zeros(8 * SR), tone])
    # Ungated, half silence would read 3 dB lower; the gates keep all but the edge blocks.
    assert measure_loudness(with_gaps, SR) == pytest.approx(measure_loudness(tone, SR), abs=0.25)
    assert measure_loudness(tone, SR) == pytest.approx(-23.01, abs=0.02)
    assert measure_loudness(np.zeros(SR), SR) == LOUDNESS_FLOOR_LUFS
    assert math.isfinite(measure_loudness(tone[:1000], SR))  # shorter than one block
    with pytest.raises(ValueError):
        measure_loudness(np.zeros((10, 3)), SR)


# --- API contracts -----------------------------------------------------------------------


def test_importing_the_package_does_not_import_numba() -> None:
    code = "import sys, appliance.synth; assert 'numba' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, check=True)


def test_warm_up_reports_seconds() -> None:
    assert 0.0 < warm_up() < 120.0


def test_silence_before_a_source_and_probability_checks() -> None:
    g = Granulator()
    out = np.ones((512, 2), dtype=np.float32)
    g.render(out)
    assert not out.any()
    assert g.source is None and g.smoothed_p.size == 0
    with pytest.raises(RuntimeError, match="set_source"):
        g.set_probability(np.ones(3))
    s = noise_source()
    g.set_source(s, np.array([0.0, 2.0, 2.0]))
    g.render(out)
    assert np.allclose(g.smoothed_p, [0.0, 0.5, 0.5])
    for bad in (np.ones(4), -np.ones(3), np.zeros(3), np.array([1.0, np.nan, 1.0])):
        with pytest.raises(ValueError, match="p must"):
            g.set_probability(bad)
    with pytest.raises(TypeError):
        g.set_source(s.audio)  # type: ignore[arg-type]


def test_volume_and_pan_ranges() -> None:
    g = Granulator()
    for bad in (-0.1, 1.1, float("nan")):
        with pytest.raises(ValueError, match="volume"):
            g.set_volume(bad)
    for bad in (-1.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="pan"):
            g.set_pan_center(bad)
    g.set_volume(0.0)
    g.set_pan_center(-1.0)


def test_setting_the_current_source_again_only_sets_p() -> None:
    s = noise_source()
    g = Granulator(params=GrainParams(p_smoothing_s=0.0))
    g.set_source(s)
    out = np.zeros((512, 2), dtype=np.float32)
    for _ in range(100):
        g.render(out)
    g.set_source(s, np.array([1.0, 0.0, 0.0]))
    g.render(out)
    assert not g.crossfading
    assert np.allclose(g.smoothed_p, [1.0, 0.0, 0.0])


@pytest.mark.parametrize("pitch_jitter", [0.0, 2.0])
def test_mono_source_and_sources_shorter_than_a_grain(pitch_jitter: float) -> None:
    for frames in (SR, 1000, 3):  # 1000 frames: shorter than the 50 ms shortest grain
        audio = np.ascontiguousarray(sine(300, frames / SR, 0.3)[:, None], dtype=np.float32)
        s = Source(audio, np.array([0.0]), -20.0)
        g = Granulator(params=GrainParams(pitch_jitter_semitones=pitch_jitter))
        g.set_source(s, crossfade=False)
        out = np.zeros((512, 2), dtype=np.float32)
        peak = 0.0
        for _ in range(50):
            g.render(out)
            assert np.all(np.isfinite(out))
            peak = max(peak, float(np.abs(out).max()))
        assert frames < 1000 or peak > 0.01  # grains are shortened to fit, not dropped


def test_sounding_positions_and_grain_log_are_in_seconds() -> None:
    s = noise_source(seconds=4.0)
    g = Granulator()
    g.set_source(s, np.array([0.0, 0.0, 1.0, 0.0]), crossfade=False)
    out = np.zeros((512, 2), dtype=np.float32)
    for _ in range(200):
        g.render(out)
    pos = g.sounding_positions()
    assert 0 < len(pos) <= 12
    assert np.all((pos >= 2.0) & (pos < 3.1))
    starts = g.recent_grain_starts()
    assert len(starts) == g.stats.grains_started
    assert np.all((starts >= 2.0) & (starts < 3.0))


def test_balance_gains_remove_a_fraction_of_each_difference_in_db() -> None:
    from appliance.synth.balance import MAX_BOOST_DB, MAX_CUT_DB, balance_gains

    lufs = np.array([-20.0, -30.0, -10.0, -60.0, 30.0])
    db = 20.0 * np.log10(balance_gains(lufs, -20.0, 0.5, 5))
    assert db == pytest.approx([0.0, 5.0, -5.0, MAX_BOOST_DB, -MAX_CUT_DB])
    assert np.array_equal(balance_gains(lufs, -20.0, 0.0, 5), np.ones(5))
    assert np.array_equal(balance_gains(None, -20.0, 1.0, 3), np.ones(3))
    full = 20.0 * np.log10(balance_gains(lufs[:3], -20.0, 1.0, 3))
    assert full == pytest.approx([0.0, 10.0, -10.0])


def test_source_checks_its_per_keyframe_loudness() -> None:
    audio = np.zeros((SR, 1), np.float32)
    times = np.array([0.0, 0.5])
    Source(audio, times, -23.0, np.array([-20.0, -25.0]))
    for bad in (np.array([-20.0]), np.array([-20.0, np.nan]), [-20.0, -25.0]):
        with pytest.raises(ValueError, match="keyframe_loudness_lufs"):
            Source(audio, times, -23.0, bad)
