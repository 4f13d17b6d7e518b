"""Vision that rests: which camera frames are embedded, counted on real photos with real
sensor-like noise (Gaussian, sigma 8 levels of 255 per channel). No timings: frames
are numbered and seen at 4 per second of simulated time."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from appliance.bench.views import CHANGING_PHOTOS, changing_view, still_view
from appliance.config import config_from_dict
from appliance.errors import ConfigError
from appliance.vision.change import ChangeDetector, Decision, difference, thumbnail
from appliance.vision.smoothing import PSmoother, longest_smoothing_s, reaction_estimate_s

FPS = 4.0
MINUTE = int(60 * FPS)


def _run(camera, detector: ChangeDetector, frames: int = MINUTE, start: int = 0) -> Counter:
    seen: Counter = Counter()
    for k in range(start, start + frames):
        seen[detector.decide(camera.frame_at(k / FPS), k / FPS)] += 1
    return seen


def _embedded(decisions: Counter) -> int:
    return sum(n for d, n in decisions.items() if d.embed)


def test_the_views_noise_is_what_it_says() -> None:
    view = still_view()
    a, b = view.frame_at(1.0), view.frame_at(1.25)
    assert np.array_equal(a, view.frame_at(1.0))  # a pure function of time
    residual = a.astype(float) - view.clean_frame_at(1.0)
    assert 7.0 < residual.std() < 8.5  # sigma 8, a little less where clipped at 0 or 255
    assert not np.array_equal(a, b)  # fresh noise every frame


def test_a_still_view_embeds_far_fewer_frames_than_a_changing_one() -> None:
    still = _run(still_view(), ChangeDetector(refresh_s=10.0))
    moving = _run(changing_view(turn_s=0.0), ChangeDetector(refresh_s=10.0))
    # The first frame, then a refresh every 10 s: 7 of 240 at most.
    assert _embedded(still) <= 1 + 60 / 10
    assert still[Decision.CHANGE] == 0 and still[Decision.MOVING] == 0
    # Every new scene (one every 2 s) is embedded.
    assert _embedded(moving) >= 30
    assert _embedded(still) / _embedded(moving) <= 0.25


def test_a_change_of_scene_is_embedded_at_once() -> None:
    view = changing_view(turn_s=0.0)
    detector = ChangeDetector(refresh_s=1000.0)
    for k in range(MINUTE):
        t = k / FPS
        decision = detector.decide(view.frame_at(t), t)
        if k == 0:
            assert decision is Decision.FIRST
        elif view.index_at(t) != view.index_at(t - 1 / FPS):  # the first frame of a new photo
            assert decision is Decision.CHANGE, (t, view.label_at(t))
        else:
            assert not decision.embed, (t, decision)


def test_a_head_turn_is_followed_until_the_view_settles() -> None:
    view = changing_view(every_s=2.0, turn_s=0.5)
    detector = ChangeDetector(refresh_s=1000.0)
    decisions = [detector.decide(view.frame_at(k / 10), k / 10) for k in range(0, 100)]
    for start in (20, 40, 60, 80):  # 10 frames/s: a turn spans frames start..start+5
        during = decisions[start + 2 : start + 5]  # (the first tenth eases in: too little)
        assert all(d.embed for d in during), (start, during)
        assert not any(d.embed for d in decisions[start + 7 : start + 20]), start


def test_resting_embeds_nothing_and_waking_embeds_at_once() -> None:
    view = changing_view(turn_s=0.0)
    detector = ChangeDetector(refresh_s=10.0)
    _run(view, detector, frames=8)
    detector.resting = True  # muted or asleep
    resting = _run(view, detector, start=8)
    assert resting == Counter({Decision.RESTING: MINUTE})
    detector.resting = False
    t = (8 + MINUTE) / FPS
    assert detector.decide(view.frame_at(t), t) is Decision.FIRST
    assert detector.counts.seen == 8 + MINUTE + 1


def test_a_new_corpus_or_camera_embeds_the_next_frame() -> None:
    view = still_view()
    detector = ChangeDetector()
    _run(view, detector, frames=8)
    detector.invalidate()
    assert detector.decide(view.frame_at(2.0), 2.0) is Decision.FIRST
    assert detector.decide(view.frame_at(2.25), 2.25) is Decision.SAME


def test_a_slow_pan_adds_up_against_the_last_embedded_frame() -> None:
    """A pan of 0.1 % of the photo a frame: no two successive frames differ enough to
    count, yet it is embedded once it adds up (the refresh far away)."""
    from appliance.camera.simulated import SlideshowCamera

    photo = CHANGING_PHOTOS[3]  # harbour boats: structure across the frame
    pan = SlideshowCamera([photo], seconds_per_image=600.0, zoom=1.5, seed=3)
    detector = ChangeDetector(refresh_s=1000.0)
    frames = [pan.frame_at(k * 2.0) for k in range(60)]  # the slideshow's own slow pan
    steps = [difference(thumbnail(a), thumbnail(b)) for a, b in itertools.pairwise(frames)]
    assert max(steps) < detector.change_threshold
    decisions = [detector.decide(f, 2.0 * k) for k, f in enumerate(frames)]
    assert decisions.count(Decision.CHANGE) >= 1


def test_a_slow_change_the_measure_cannot_see_is_caught_by_the_refresh() -> None:
    """Light rising evenly by 0.1 level a frame (the measure ignores the mean)."""
    base = still_view(noise_sigma=0.0).frame_at(0.0).astype(float)
    rng = np.random.default_rng(1)
    detector = ChangeDetector(refresh_s=5.0)
    decisions = []
    for k in range(MINUTE):
        frame = np.clip(base + 0.1 * k + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
        decisions.append(detector.decide(frame, k / FPS))
    refreshes = [k for k, d in enumerate(decisions) if d is Decision.REFRESH]
    assert len(refreshes) == 11 and np.all(np.diff(refreshes) == 5 * FPS)
    assert sum(d.embed for d in decisions) == 12


def test_counts_for_the_log() -> None:
    detector = ChangeDetector(refresh_s=10.0)
    _run(still_view(), detector)
    counts = detector.counts
    assert (counts.seen, counts.embedded) == (MINUTE, 6)
    assert counts.describe() == "6 of 240 frames embedded (2 %)"
    assert counts.since(counts).seen == 0


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValueError, match="settle_threshold"):
        ChangeDetector(change_threshold=2.0, settle_threshold=3.0)
    with pytest.raises(ConfigError) as err:
        config_from_dict({"vision": {"change_threshold": 3.0, "settle_threshold": 5.0}}, "c.toml")
    assert "vision.settle_threshold = 5.0 in c.toml" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError) as err:
        config_from_dict({"vision": {"refresh_s": 0.5}}, "c.toml")
    assert "vision.refresh_s = 0.5 in c.toml is out of range: allowed 1–120" in str(err.value)


# --- p per embedded frame -------------------------------------------------------------------


def test_a_change_is_taken_at_once_and_a_refresh_is_averaged() -> None:
    smoother = PSmoother(still_smoothing_s=10.0)
    a, b = np.array([0.9, 0.1]), np.array([0.1, 0.9])
    assert np.allclose(smoother.update(a, Decision.FIRST, 0.0), a)
    assert np.allclose(smoother.update(b, Decision.CHANGE, 0.25), b)  # the quick answer
    # A refresh 10 s later moves 1 - 1/e of the way.
    got = smoother.update(a, Decision.REFRESH, 10.25)
    assert got == pytest.approx(b + (1 - np.exp(-1)) * (a - b))
    assert got.sum() == pytest.approx(1.0)
    # A slow drift is followed: refreshes towards the same p converge on it.
    for k in range(2, 8):
        got = smoother.update(a, Decision.REFRESH, 10.25 * k)
    assert got == pytest.approx(a, abs=1e-2)
    smoother.reset()
    assert np.allclose(smoother.update(b, Decision.REFRESH, 100.0), b)


def test_the_smoothing_that_answers_within_0_8_s() -> None:
    tau = longest_smoothing_s(0.8, vision_fps=4.0, embed_s=0.012)
    assert 0.2 < tau < 0.23
    assert reaction_estimate_s(tau, 4.0, 0.012) == pytest.approx(0.8)
    assert reaction_estimate_s(0.5, 4.0, 0.012) > 1.4  # today's 0.5 s is too slow
    assert longest_smoothing_s(0.8, 4.0, 0.2) < tau  # a Pi 4's 200 ms embedding
