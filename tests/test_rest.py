"""Vision that rests, wired into the engine: which camera frames the engine embeds.

The real model, a demo corpus and the bench's noisy views (sensor noise sigma 8 levels
of 255); frames are fed at 4 per second of simulated time through the engine's vision
loop (``Engine.vision_consider``), as the live loop and offline renders do. No timings:
embeddings are counted.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from appliance import DEMO_MEDIA
from appliance.app import load_corpora, make_cues, make_settings
from appliance.audio.paced import PacedSink
from appliance.bench.views import changing_view, still_view
from appliance.config import Config
from appliance.controls.actions import Action
from appliance.cues import cue_gain
from appliance.engine import Engine
from appliance.state import State
from appliance.synth.volume import FULL_VOLUME_LUFS, volume_to_gain
from appliance.vision.change import Decision

FPS = 4.0
MINUTE = int(60 * FPS)


@pytest.fixture(scope="module")
def corpora(embedder):
    return load_corpora(Config.default(), embedder, names=["harbour", "night"]).corpora


def _engine(corpora, embedder, state: State | None = None, camera=None, **settings) -> Engine:
    config = Config.default()
    s = make_settings(config, seed=3)
    for key, value in settings.items():
        setattr(s, key, value)
    return Engine(s, corpora, embedder, PacedSink(s.sample_rate, s.block_size),
                  make_cues(s.sample_rate), camera_opener=(lambda: camera) if camera else None,
                  state=state or State(volume=config.volume.initial))


def _feed(engine: Engine, view, start: int, frames: int) -> list[int]:
    """Feed frames ``start`` … ``start + frames - 1``; the frame numbers that were embedded."""
    embedded = []
    for k in range(start, start + frames):
        before = engine.frames_seen
        engine.vision_consider(view.frame_at(k / FPS), k / FPS)
        if engine.frames_seen > before:
            embedded.append(k)
    return embedded


def test_the_engine_embeds_a_still_view_far_less_than_a_changing_one(corpora, embedder) -> None:
    still = _engine(corpora, embedder)
    still.controller.select_corpus(0, announce=False)
    kept = _feed(still, still_view(), 0, MINUTE)
    # The first frame, then the refresh every 12 s (a slow drift is caught there).
    assert kept == [0, 48, 96, 144, 192]
    assert still.vision_counts.seen == MINUTE and still.vision_counts.embedded == len(kept)
    snap = still.snapshot
    assert snap.frames_read == MINUTE and snap.frames_embedded == len(kept)
    assert snap.embedded_share == pytest.approx(len(kept) / MINUTE)
    assert still.vision_counts.describe() == "5 of 240 frames embedded (2 %)"

    moving = _engine(corpora, embedder)
    moving.controller.select_corpus(0, announce=False)
    turns = _feed(moving, changing_view(), 0, MINUTE)
    assert len(turns) >= 30  # every new scene (one every 2 s), and its head turn
    assert len(kept) / len(turns) <= 0.1


def test_a_change_of_scene_is_embedded_at_once(corpora, embedder) -> None:
    engine = _engine(corpora, embedder)
    engine.controller.select_corpus(0, announce=False)
    view = changing_view(turn_s=0.0)  # hard cuts every 2 s: 8 frames per scene
    embedded = _feed(engine, view, 0, MINUTE)
    changes = [k for k in range(8, MINUTE, 8)]
    assert set(changes) <= set(embedded), "a new scene waited for the refresh"
    # Between the changes (and their refreshes) the view rests.
    assert len(embedded) <= 2 * len(changes) + 1


def test_muted_and_asleep_embed_nothing_and_the_first_frame_after_is(corpora, embedder) -> None:
    engine = _engine(corpora, embedder, timer_fade_s=0.05)
    engine.controller.select_corpus(0, announce=False)
    view = changing_view()
    assert _feed(engine, view, 0, 1) == [0]

    engine.handle(Action.TOGGLE_MUTE)
    assert engine.state.muted and engine.detector.resting
    assert _feed(engine, view, 1, MINUTE) == []  # a minute of changing scenes, muted
    engine.handle(Action.TOGGLE_MUTE)
    assert _feed(engine, view, MINUTE + 1, 1) == [MINUTE + 1]

    engine.set_sleep_timer(0.0001)  # minutes: asleep once the 0.05 s fade is over
    deadline = time.monotonic() + 5.0
    while not engine.controller.sleeping and time.monotonic() < deadline:
        time.sleep(0.02)
        engine.controller.tick()
    assert engine.controller.sleeping and engine.detector.resting
    start = MINUTE + 2
    assert _feed(engine, view, start, MINUTE) == []  # a minute asleep
    engine.handle(Action.VOLUME_UP)  # any button wakes the box
    assert not engine.controller.sleeping and not engine.detector.resting
    assert _feed(engine, view, start + MINUTE, 1) == [start + MINUTE]
    counts = engine.vision_counts
    assert counts.seen == 2 * MINUTE + 3 and counts.embedded == engine.frames_seen


def test_a_corpus_switch_embeds_the_next_frame(corpora, embedder) -> None:
    engine = _engine(corpora, embedder)
    engine.controller.select_corpus(0, announce=False)
    view = still_view()
    assert _feed(engine, view, 0, 8) == [0]
    engine.handle(Action.NEXT_CORPUS)
    p = engine.vision_consider(view.frame_at(8 / FPS), 8 / FPS)
    assert engine.frames_seen == 2
    assert len(p) == len(corpora[1].keyframe_times)  # the new corpus' p, at once


def test_a_refresh_of_a_still_view_moves_p_a_little_and_a_change_at_once(corpora, embedder):
    engine = _engine(corpora, embedder)
    engine.controller.select_corpus(0, announce=False)
    vision = engine.vision
    view = still_view(DEMO_MEDIA / "harbour" / "harbour_boats_evening.jpg")  # a harbour scene
    frame = view.frame_at(0.0)
    p0 = vision.step(frame, Decision.FIRST, 0.0)
    raw = vision.step(view.frame_at(10.0), Decision.CHANGE, 10.0)
    vision.smoother.reset()
    vision.step(frame, Decision.FIRST, 0.0)
    averaged = vision.step(view.frame_at(10.0), Decision.REFRESH, 10.0)
    # tau = 10 s over a 10 s refresh: 1 - 1/e (63 %) of the way to the new estimate.
    a = 1.0 - math.exp(-1.0)
    assert np.allclose(averaged, p0 + a * (raw - p0), rtol=1e-6, atol=1e-12)
    assert np.abs(raw - p0).sum() > 0  # the noise did move the raw estimate


def test_the_volume_sets_the_soundscape_and_the_cues_level_together(corpora, embedder) -> None:
    engine = _engine(corpora, embedder, state=State(volume=0.6))
    assert engine.settings.params.target_lufs == FULL_VOLUME_LUFS
    assert engine.audio.gain == volume_to_gain(0.6)
    assert engine.mixer.level == cue_gain(0.6)
    for _ in range(4):
        engine.handle(Action.VOLUME_UP)
    assert engine.state.volume == 1.0
    assert engine.audio.gain == 1.0 and engine.mixer.level == cue_gain(1.0)
    for _ in range(5):
        engine.handle(Action.VOLUME_DOWN)
    assert engine.audio.gain == pytest.approx(volume_to_gain(0.5))
    assert engine.mixer.level == pytest.approx(cue_gain(0.5)) and cue_gain(0.5) < cue_gain(1.0)


def test_the_running_engine_looks_at_frames_but_embeds_none_while_muted(
    corpora, embedder
) -> None:
    view = still_view(max_fps=30.0)
    engine = _engine(corpora, embedder, state=State(volume=0.6, muted=True), camera=view)
    engine.start(announce_ready=False)
    try:
        deadline = time.monotonic() + 20.0
        while engine.vision_counts.seen < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.vision_counts.seen >= 8
        assert engine.vision_counts.embedded == 0 and engine.frames_seen == 0
        engine.handle(Action.TOGGLE_MUTE)  # unmuted: the next frame is embedded at once
        seen = engine.vision_counts.seen
        while engine.frames_seen == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.frames_seen >= 1
        assert engine.vision_counts.seen - seen <= 3  # at the first frame or so
    finally:
        engine.stop()
