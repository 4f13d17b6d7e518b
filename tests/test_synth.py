"""Granular synthesizer: what a listener notices, on real recordings from corpora/media."""

from __future__ import annotations

import math
import threading
from types import SimpleNamespace

import numpy as np
import pytest

from appliance import DEMO_MEDIA
from appliance.bench import memory_bytes
from appliance.media import decode_audio
from appliance.synth import GrainParams, Granulator, Source, measure_loudness
from appliance.synth.source import to_pcm

SR = 48000
BLOCK = 512


def _decode(rel: str) -> np.ndarray:
    return decode_audio(DEMO_MEDIA / rel, SR)


def render(g: Granulator, seconds: float) -> np.ndarray:
    """Render ``seconds`` of output as float32 (frames, 2)."""
    out = np.zeros((g.block_size, 2), dtype=np.float32)
    blocks = []
    for _ in range(round(seconds * SR / g.block_size)):
        g.render(out)
        blocks.append(out.copy())
    return np.concatenate(blocks)


def short_term_db(y: np.ndarray, window_s: float) -> np.ndarray:
    """RMS level (dBFS, both channels) of consecutive ``window_s`` windows."""
    n = round(window_s * SR)
    k = len(y) // n
    seg = y[: k * n].reshape(k, n, -1)
    return 10.0 * np.log10(np.mean(seg.astype(np.float64) ** 2, axis=(1, 2)) + 1e-20)


def max_step(y: np.ndarray) -> float:
    return float(np.abs(np.diff(y, axis=0)).max())


def source_step(source: Source, target_lufs: float = -23.0) -> float:
    """The source's own 99.9th-percentile sample step, at its playback gain."""
    gain = 10.0 ** ((target_lufs - source.loudness_lufs) / 20.0)
    return float(np.percentile(np.abs(np.diff(source.audio, axis=0)), 99.9)) * gain


def band_shape(y: np.ndarray) -> np.ndarray:
    """Octave-band energies (62.5 Hz – 16 kHz) in dB, mean removed: spectral shape only."""
    mono = y.astype(np.float64).mean(axis=1)
    power = np.abs(np.fft.rfft(mono)) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1.0 / SR)
    edges = 62.5 * 2.0 ** np.arange(0, 9)
    bands = [power[(freqs >= lo) & (freqs < 2 * lo)].sum() for lo in edges]
    db = 10.0 * np.log10(np.array(bands) + 1e-20)
    return db - db.mean()


def chi_square(counts: np.ndarray, p: np.ndarray) -> float:
    expected = counts.sum() * p
    return float(np.sum((counts - expected) ** 2 / expected))


def chi_square_sf_even(x: float, dof: int) -> float:
    """Exact chi-square survival function for even degrees of freedom."""
    m = dof // 2
    return math.exp(-x / 2) * sum((x / 2) ** i / math.factorial(i) for i in range(m))


@pytest.fixture(scope="module")
def waterfall() -> Source:
    return Source.from_audio(_decode("waterfall/waterfall_1.ogg"), SR)


@pytest.fixture(scope="module")
def rain() -> Source:
    return Source.from_audio(_decode("rain/rain_heavy.ogg"), SR)


@pytest.fixture(scope="module")
def drizzle() -> Source:
    """Light rain: sparse drops over a quiet bed, where a hard grain edge is audible."""
    return Source.from_audio(_decode("rain/rain_steady.ogg"), SR)


@pytest.fixture(scope="module")
def cow() -> Source:
    return Source.from_audio(_decode("farm/cow/cow_3.ogg"), SR)


@pytest.fixture(scope="module")
def two_regions(waterfall: Source) -> Source:
    """10 s of waterfall (keyframes 0–9) then 10 s of crickets (keyframes 10–19)."""
    crickets = _decode("night/night_crickets_desert.ogg")
    audio = np.concatenate([waterfall.audio[: 10 * SR], crickets[: 10 * SR]])
    return Source.from_audio(audio, SR)


@pytest.fixture(scope="module")
def pcm_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """60 s of a real stereo recording as a corpus stores it (int16, rint(x · 32767)), and
    its left channel as a mono corpus; loudness figures measured as the builder does
    (on the audio as stereo, mono duplicated)."""
    x = _decode("night/night_insects_frogs.ogg")
    assert x.shape[0] > 59 * SR and x.shape[1] == 2
    directory = tmp_path_factory.mktemp("pcm")
    files: dict[str, object] = {}
    for name, audio in (("stereo", x), ("mono", np.ascontiguousarray(x[:, :1]))):
        path = directory / f"{name}.npy"
        np.save(path, np.rint(np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16))
        as_stereo = audio if audio.shape[1] == 2 else np.repeat(audio, 2, axis=1)
        files[name] = path
        files[f"{name}_lufs"] = measure_loudness(as_stereo, SR)
    return files


def _corpus(audio: np.ndarray, loudness_lufs: float) -> SimpleNamespace:
    """What Source.from_corpus reads of an appliance.corpus.Corpus."""
    times = np.arange(0.0, audio.shape[0] / SR, 1.0)
    return SimpleNamespace(audio=audio, keyframe_times=times, loudness_lufs=loudness_lufs,
                           keyframe_loudness_lufs=None)


def _region_p(k: int, weights: dict[int, float]) -> np.ndarray:
    p = np.zeros(k)
    for i, w in weights.items():
        p[i] = w
    return p


# --- grains follow p -----------------------------------------------------------------------


def test_grain_starts_follow_p(two_regions: Source) -> None:
    p = _region_p(two_regions.keyframes, {2: 0.2, 3: 0.5, 4: 0.3})
    g = Granulator(seed=7)
    g.set_source(two_regions, p, crossfade=False)
    render(g, 30.0)
    starts = g.recent_grain_starts()
    assert len(starts) >= 2900
    keyframe = np.searchsorted(two_regions.keyframe_times, starts, side="right") - 1
    counts = np.bincount(keyframe, minlength=two_regions.keyframes)
    assert counts.sum() == counts[2] + counts[3] + counts[4], "grains from keyframes with p = 0"
    observed = counts[[2, 3, 4]]
    stat = chi_square(observed, np.array([0.2, 0.5, 0.3]))
    assert chi_square_sf_even(stat, 2) > 1e-3, (observed, stat)
    # The same test rejects a p the sampler was not given.
    wrong = chi_square(observed, np.array([0.3, 0.4, 0.3]))
    assert chi_square_sf_even(wrong, 2) < 1e-6, (observed, wrong)


def test_output_spectrum_follows_p(two_regions: Source) -> None:
    region_a = two_regions.audio[2 * SR : 5 * SR]  # waterfall: broadband rush
    region_b = two_regions.audio[12 * SR : 15 * SR]  # crickets: narrow, high
    shape_a, shape_b = band_shape(region_a), band_shape(region_b)
    for weights, near, far in (
        ({2: 1, 3: 1, 4: 1}, shape_a, shape_b),
        ({12: 1, 13: 1, 14: 1}, shape_b, shape_a),
    ):
        g = Granulator(seed=3)
        g.set_source(two_regions, _region_p(two_regions.keyframes, weights), crossfade=False)
        shape = band_shape(render(g, 6.0)[SR:])
        d_near = np.linalg.norm(shape - near)
        d_far = np.linalg.norm(shape - far)
        assert d_near < 0.7 * d_far, (weights, d_near, d_far)


def test_new_p_reaches_new_grains_smoothly(two_regions: Source) -> None:
    k = two_regions.keyframes
    on_a = _region_p(k, {2: 1, 3: 1, 4: 1})
    on_b = _region_p(k, {12: 1, 13: 1, 14: 1})
    g = Granulator(seed=11)  # p_smoothing_s = 0.5
    g.set_source(two_regions, on_a, crossfade=False)
    render(g, 2.0)
    g.set_probability(on_b)
    render(g, BLOCK / SR)
    assert g.smoothed_p[10:].sum() < 0.05  # one block later: barely moved
    # Sounding grains finish untouched: the voices still read region A.
    assert np.all(g.sounding_positions() < 10.0)
    render(g, 0.5 - BLOCK / SR)  # one time constant: 1 − 1/e of the way
    assert g.smoothed_p[10:].sum() == pytest.approx(1.0 - math.exp(-1.0), abs=0.03)
    render(g, 6.0)  # thirteen time constants: e^-13 of region A left
    assert np.allclose(g.smoothed_p, on_b / 3.0, atol=1e-5)
    recent = g.recent_grain_starts()[-100:]
    assert np.all((recent >= 12.0) & (recent < 15.0))
    # Without smoothing, the next block's grains already follow the new p.
    g = Granulator(params=GrainParams(p_smoothing_s=0.0), seed=11)
    g.set_source(two_regions, on_a, crossfade=False)
    render(g, 1.0)
    before = g.stats.grains_started
    g.set_probability(on_b)
    render(g, 0.2)
    new = g.stats.grains_started - before
    assert np.all(g.recent_grain_starts()[-new:] >= 12.0)


# --- no clicks -----------------------------------------------------------------------------


def test_no_clicks_across_p_changes_switches_and_volume(drizzle: Source, cow: Source) -> None:
    g = Granulator(seed=5)
    g.set_source(drizzle, crossfade=False)
    k = drizzle.keyframes
    parts = [render(g, 2.0)]
    g.set_probability(_region_p(k, {12: 1.0}))  # jump to another region
    parts.append(render(g, 2.0))
    g.set_volume(0.1)
    parts.append(render(g, 0.5))
    g.set_volume(1.0)
    parts.append(render(g, 0.5))
    g.set_source(cow)  # corpus switch, 1.5 s crossfade
    parts.append(render(g, 3.0))
    g.set_volume(0.0)  # fade out to silence
    parts.append(render(g, 0.5))
    y = np.concatenate(parts)
    limit = 3.0 * max(source_step(drizzle), source_step(cow))
    assert max_step(y) < limit, (max_step(y), limit)
    assert np.all(y[-BLOCK:] == 0.0)


def test_click_measure_catches_rectangular_grains(drizzle: Source) -> None:
    # The measure above can fail: grains without a taper click.
    g = Granulator(params=GrainParams(attack_release=0.0), seed=5)
    g.set_source(drizzle, crossfade=False)
    assert max_step(render(g, 4.0)) > 3.0 * source_step(drizzle)


# --- steady, never silent, same level across corpora ------------------------------------


@pytest.mark.parametrize("name", ["waterfall", "rain"])
def test_steady_loudness_and_no_silence(name: str, request: pytest.FixtureRequest) -> None:
    source: Source = request.getfixturevalue(name)
    g = Granulator(seed=2)
    g.set_source(source, crossfade=False)
    y = render(g, 11.0)[SR:]  # after the first second
    level = short_term_db(y, 0.4)
    assert np.all(np.abs(level - level.mean()) <= 1.0), level - level.mean()
    # No gaps between grains: every 10 ms stretch carries sound.
    assert short_term_db(y, 0.01).min() > level.mean() - 20.0


def test_corpora_of_different_loudness_play_at_the_same_level(
    waterfall: Source, drizzle: Source
) -> None:
    # -14.5 and -19.7 LUFS as decoded (both stereo files).
    assert abs(waterfall.loudness_lufs - drizzle.loudness_lufs) > 3.0  # really different
    levels = []
    for source in (waterfall, drizzle):
        g = Granulator(seed=4)
        g.set_source(source, crossfade=False)
        levels.append(measure_loudness(render(g, 8.0)[SR:], SR))
    assert abs(levels[0] - levels[1]) < 0.7, levels
    assert all(abs(level - (-23.0)) < 1.0 for level in levels), levels
    # Without the right loudness figure the levels would differ by the corpora's difference.
    wrong = Source(drizzle.audio, drizzle.keyframe_times, waterfall.loudness_lufs)
    g = Granulator(seed=4)
    g.set_source(wrong, crossfade=False)
    assert levels[1] - measure_loudness(render(g, 8.0)[SR:], SR) > 3.0


def test_level_balance_narrows_the_jump_between_parts_of_a_corpus(
    waterfall: Source, drizzle: Source
) -> None:
    from appliance.corpus.loudness import keyframe_loudness

    # One corpus: 10 s of waterfall (keyframes 0–9), then 10 s of light rain (10–19).
    audio = np.concatenate([waterfall.audio[: 10 * SR], drizzle.audio[: 10 * SR]])
    pcm = to_pcm(audio)
    times = np.arange(20, dtype=np.float64)
    per_keyframe = keyframe_loudness(pcm, times, SR)
    # Measured where each recording is: the waterfall's keyframes are the louder ones.
    assert per_keyframe[1:9].min() > per_keyframe[11:19].max()
    whole = measure_loudness(pcm, SR)

    def jump(balance: float, figures: np.ndarray | None = per_keyframe) -> float:
        """LU between the output with p on the waterfall and with p on the rain."""
        levels = []
        for region in (range(10), range(10, 20)):
            g = Granulator(params=GrainParams(level_balance=balance), seed=6)
            p = _region_p(20, dict.fromkeys(region, 1.0))
            g.set_source(Source(pcm, times, whole, figures), p, crossfade=False)
            levels.append(measure_loudness(render(g, 6.0)[SR:], SR))
        return levels[0] - levels[1]

    natural = jump(0.0)
    assert natural > 3.5, natural  # the recordings' own difference (-14.5 vs -19.7 LUFS)
    assert jump(0.5) == pytest.approx(natural / 2, abs=0.8)  # the default halves it
    assert abs(jump(1.0)) < 1.0  # and 1 evens it out (3 s windows blur the border)
    # Without per-keyframe figures (a corpus from before them) the levels are the natural ones.
    assert jump(1.0, None) == pytest.approx(natural, abs=1e-9)


# --- corpus switching ---------------------------------------------------------------------


def test_crossfade_keeps_level_and_releases_the_old_corpus(waterfall: Source, rain: Source) -> None:
    g = Granulator(seed=9)
    g.set_source(waterfall)  # first call fades in over crossfade_s
    first = render(g, 3.0)
    assert short_term_db(first[: SR // 10], 0.1)[0] < short_term_db(first[2 * SR :], 0.1).mean() - 6
    assert not g.crossfading
    g.set_source(rain)
    during = render(g, 1.5)
    assert g.crossfading or g.stats.active_voices > 0
    after = render(g, 1.5)
    assert not g.crossfading
    assert g.source is rain
    before_db = short_term_db(first[SR:], 0.1).mean()
    after_db = short_term_db(after[SR // 2 :], 0.1).mean()
    # Equal power: no dip while both corpora sound.
    assert short_term_db(during, 0.1).min() > min(before_db, after_db) - 3.0


def test_rapid_switches_never_click(waterfall: Source, rain: Source, cow: Source) -> None:
    g = Granulator(seed=12)
    g.set_source(waterfall, crossfade=False)
    parts = [render(g, 1.0)]
    for source in (rain, cow, waterfall, rain, cow):  # faster than crossfades end
        g.set_source(source)
        parts.append(render(g, 0.3))
    parts.append(render(g, 4.0))
    y = np.concatenate(parts)
    limit = 3.0 * max(source_step(s) for s in (waterfall, rain, cow))
    assert max_step(y) < limit
    assert g.source is cow  # the latest request wins
    assert not g.crossfading


# --- safety and output formats ------------------------------------------------------------


def test_limiter_keeps_peaks_under_the_ceiling(rain: Source) -> None:
    # Far too hot a target, plus a full-scale overlay square wave.
    g = Granulator(params=GrainParams(target_lufs=0.0), seed=1)
    g.set_source(rain, crossfade=False)
    overlay = np.zeros((BLOCK, 2), dtype=np.float32)
    overlay[: BLOCK // 2] = 1.0
    overlay[BLOCK // 2 :] = -1.0
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    s16 = np.zeros(2 * BLOCK, dtype=np.int16)
    ceiling = 10.0 ** (-1.0 / 20.0)
    peak = 0.0
    peak16 = 0
    for i in range(300):
        g.render(out, overlay if i % 3 == 0 else None)
        peak = max(peak, float(np.abs(out).max()))
        g.render_int16(s16, overlay if i % 5 == 0 else None)
        peak16 = max(peak16, int(np.abs(s16.astype(np.int32)).max()))
    assert 0.8 < peak <= ceiling
    assert peak16 <= ceiling * 32767 + 1


def test_integer_outputs_equal_the_float_output(cow: Source) -> None:
    gs = [Granulator(seed=8) for _ in range(3)]
    for g in gs:
        g.set_source(cow, crossfade=False)
    f = np.zeros((BLOCK, 2), dtype=np.float32)
    s16 = np.zeros(2 * BLOCK, dtype=np.int16)
    s32 = np.zeros(2 * BLOCK, dtype=np.int32)
    for _ in range(200):
        gs[0].render(f)
        gs[1].render_int16(s16)
        gs[2].render_int32(s32)
    interleaved = f.reshape(-1).astype(np.float64)
    assert np.abs(interleaved).max() > 0.05
    assert np.abs(s16 - np.floor(interleaved * 32767 + 0.5)).max() <= 1
    assert np.abs(s32 / 2147483647.0 - interleaved).max() < 1e-6


def test_overlay_is_added_after_the_master_volume(cow: Source) -> None:
    g = Granulator(seed=1)
    g.set_source(cow, crossfade=False)
    g.set_volume(0.0)
    t = np.arange(BLOCK) / SR
    overlay = np.repeat((0.1 * np.sin(2 * np.pi * 440 * t))[:, None], 2, axis=1).astype(np.float32)
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    for _ in range(20):
        g.render(out, overlay)
    assert np.array_equal(out, overlay)


def test_volume_scales_the_level(rain: Source) -> None:
    levels = []
    for volume in (1.0, 0.5):
        g = Granulator(seed=6)
        g.set_source(rain, crossfade=False)
        g.set_volume(volume)
        levels.append(short_term_db(render(g, 3.0)[SR:], 1.0).mean())
    assert levels[0] - levels[1] == pytest.approx(20 * math.log10(2.0), abs=0.05)


# --- voices, pan, pitch, block size -------------------------------------------------------


def test_full_pool_drops_and_counts(rain: Source) -> None:
    g = Granulator(params=GrainParams(max_voices=3), seed=1)
    g.set_source(rain, crossfade=False)
    for _ in range(round(5.0 * SR / BLOCK)):
        render(g, BLOCK / SR)
        assert g.stats.active_voices <= 3
    stats = g.stats
    assert stats.grains_dropped > 0
    assert stats.grains_started + stats.grains_dropped == pytest.approx(500, rel=0.05)
    assert stats.blocks_rendered == round(5.0 * SR / BLOCK)


def test_pan_center_and_spread(cow: Source) -> None:
    mono = Source(np.ascontiguousarray(cow.audio[:, :1]), cow.keyframe_times, cow.loudness_lufs)
    g = Granulator(params=GrainParams(pan_spread=0.0), seed=1)
    g.set_source(mono, crossfade=False)
    centre = render(g, 1.0)
    assert np.array_equal(centre[:, 0], centre[:, 1])
    g.set_pan_center(-1.0)
    left = render(g, 1.0)[round(0.2 * SR) :]  # grains started before the change have ended
    assert np.all(left[:, 1] == 0.0) and np.abs(left[:, 0]).max() > 0.01
    g = Granulator(params=GrainParams(pan_spread=1.0), seed=1)
    g.set_source(cow, crossfade=False)
    y = render(g, 3.0)[SR:]
    corr = np.corrcoef(y[:, 0], y[:, 1])[0, 1]
    assert corr < 0.9  # spread grains decorrelate the channels


def test_pitch_jitter_is_smooth_and_deterministic(rain: Source) -> None:
    params = GrainParams(pitch_jitter_semitones=3.0)
    ys = []
    for _ in range(2):
        g = Granulator(params=params, seed=21)
        g.set_source(rain, crossfade=False)
        ys.append(render(g, 3.0))
    assert np.array_equal(ys[0], ys[1])
    assert max_step(ys[0]) < 3.0 * source_step(rain)
    g = Granulator(seed=21)
    g.set_source(rain, crossfade=False)
    assert not np.array_equal(render(g, 3.0), ys[0])


def test_grain_onsets_do_not_depend_on_the_block_size(cow: Source) -> None:
    ys = []
    for block in (64, 512, 2048):
        g = Granulator(block_size=block, seed=3)
        g.set_source(cow, crossfade=False)
        ys.append(render(g, 3.0)[: 2 * SR])
    for y in ys[1:]:
        assert np.abs(y - ys[0]).max() < 1e-6


# --- determinism and threads --------------------------------------------------------------


def test_same_seed_same_output(rain: Source, cow: Source) -> None:
    def session(seed: int) -> np.ndarray:
        g = Granulator(seed=seed)
        g.set_source(rain)
        a = render(g, 1.0)
        g.set_probability(_region_p(rain.keyframes, {5: 1.0, 6: 3.0}))
        g.set_pan_center(0.5)
        b = render(g, 1.0)
        g.set_source(cow)
        g.set_volume(0.7)
        return np.concatenate([a, b, render(g, 2.0)])

    first = session(5)
    assert np.array_equal(first, session(5))
    assert not np.array_equal(first, session(6))


def test_probability_published_from_another_thread(rain: Source) -> None:
    g = Granulator(seed=1)
    g.set_source(rain, crossfade=False)
    k = rain.keyframes
    rng = np.random.default_rng(0)
    last = {}
    errors = []

    def vision() -> None:
        try:
            for i in range(300):
                p = rng.random(k) ** 4
                g.set_probability(p)
                g.set_pan_center(float(np.sin(i)))
                last["p"] = p / p.sum()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=vision)
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    thread.start()
    while thread.is_alive():
        g.render(out)
    thread.join()
    assert not errors
    render(g, 5.0)
    assert np.allclose(g.smoothed_p, last["p"], atol=1e-4)


def test_render_allocates_nothing(
    rain: Source, cow: Source, pcm_files: dict[str, object]
) -> None:
    from numba import njit
    from numba.core.runtime import _nrt_python, rtsys

    from appliance.synth.engine import RENDER_SIGNATURE

    @njit(RENDER_SIGNATURE)
    def empty(a0, k0, a1, k1, voices, fstate, istate, bus, overlay, out, s16, s32, mode):
        pass  # what Numba's dispatcher allocates to pass the arguments, and nothing else

    g = Granulator(params=GrainParams(pitch_jitter_semitones=1.0), seed=1)
    g.set_source(rain)
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    s16 = np.zeros(2 * BLOCK, dtype=np.int16)
    overlay = np.full((BLOCK, 2), 0.9, dtype=np.float32)  # exercises the limiter
    g.render(out)
    mm = np.load(pcm_files["stereo"], mmap_mode="r")
    corpus = Source.from_corpus(_corpus(mm, pcm_files["stereo_lufs"]))
    args = (*g._state, overlay, out, g._no_s16, g._no_s32, 0)
    _nrt_python.memsys_enable_stats()
    try:
        before = rtsys.get_allocation_stats().alloc
        for _ in range(400):
            empty(*args)
        baseline = rtsys.get_allocation_stats().alloc - before
        before = rtsys.get_allocation_stats().alloc
        for i in range(200):
            g.render(out, overlay if i % 7 == 0 else None)
            g.render_int16(s16)
            if i == 50:
                g.set_source(cow)  # the switch happens inside render
            if i == 120:
                g.set_source(corpus)  # to a memory-mapped int16 corpus
        used = rtsys.get_allocation_stats().alloc - before
    finally:
        _nrt_python.memsys_disable_stats()
    assert used == baseline


def test_wrong_dtype_raises_instead_of_compiling(cow: Source) -> None:
    g = Granulator()
    g.set_source(cow, crossfade=False)
    with pytest.raises(TypeError):
        g.render(np.zeros((BLOCK, 2), dtype=np.float64))
    with pytest.raises(TypeError):
        g.render_int16(np.zeros(2 * BLOCK, dtype=np.int32))
    with pytest.raises(ValueError, match="block_size"):
        g.render(np.zeros((BLOCK // 2, 2), dtype=np.float32))
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    for audio in (np.zeros((SR, 2), np.float32), np.zeros((SR, 2), np.int32)):  # int16 only
        with pytest.raises(TypeError):
            g._kernel(audio, *g._state[1:], g._no_f32, out, g._no_s16, g._no_s32, 0)
    assert len(g._kernel.signatures) == 1


# --- int16 corpora played from a memory map ---------------------------------------------


def test_memmapped_int16_corpus_plays_in_place(pcm_files: dict[str, object]) -> None:
    Granulator()  # the kernel loaded before measuring
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    before = memory_bytes("RssAnon")
    mm = np.load(pcm_files["stereo"], mmap_mode="r")
    assert not mm.flags.writeable and mm.dtype == np.int16
    source = Source.from_corpus(_corpus(mm, pcm_files["stereo_lufs"]))
    assert source.audio is mm
    assert np.shares_memory(source.pcm, mm) and source.pcm.dtype == np.int16
    g = Granulator(seed=1)
    g.set_source(source, crossfade=False)
    peak = 0.0
    for _ in range(round(3.0 * SR / BLOCK)):
        g.render(out)
        peak = max(peak, float(np.abs(out).max()))
    grown = memory_bytes("RssAnon") - before
    assert grown < mm.nbytes // 4, f"anonymous memory grew by {grown} bytes"  # no copy
    assert 0.01 < peak < 1.0
    assert g.stats.grains_started >= 290


@pytest.mark.parametrize(("layout", "pitch_jitter"), [("stereo", 0.0), ("mono", 0.0),
                                                     ("stereo", 1.0)])
def test_int16_corpus_plays_at_the_float32_level(
    layout: str, pitch_jitter: float, pcm_files: dict[str, object]
) -> None:
    mm = np.load(pcm_files[layout], mmap_mode="r")
    lufs = pcm_files[f"{layout}_lufs"]
    # What the appliance played before: Corpus.audio_float32() (÷ 32767, mono duplicated).
    f32 = np.repeat(mm, 2 // mm.shape[1], axis=1).astype(np.float32) / np.float32(32767.0)
    corpus = _corpus(mm, lufs)
    sources = (Source.from_corpus(corpus), Source(f32, corpus.keyframe_times, lufs))
    ys = []
    for source in sources:
        g = Granulator(params=GrainParams(pitch_jitter_semitones=pitch_jitter), seed=4)
        g.set_source(source, crossfade=False)
        ys.append(render(g, 6.0).astype(np.float64))
    rms = [math.sqrt(np.mean(y**2)) for y in ys]
    assert abs(rms[0] / rms[1] - 1.0) < 1e-4, rms
    # The same grains, sample by sample: only int16 rounding and 32767 vs 32768 differ.
    assert np.abs(ys[0] - ys[1]).max() < 1e-3 * np.abs(ys[1]).max()
    assert measure_loudness(ys[0][SR:], SR) == pytest.approx(-23.0, abs=1.0)
