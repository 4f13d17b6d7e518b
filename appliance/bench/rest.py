"""Rest: vision that rests on a still view, answers a change quickly, and sleeps.

The views (:mod:`appliance.bench.views`): a still camera on one demo photo with
Gaussian sensor noise (σ = 8 levels of 255 per colour channel, fresh every frame),
and a camera turned to another demo scene every 2 s (each reached by a 0.4 s head
turn), both on the ``world`` corpus, at the default settings (``vision_fps`` 4,
``[vision]`` and ``[synth]`` defaults).

Two kinds of run, and why: a live run costs its length in wall time, so the counts and
the sound are measured **offline**, the same engine (change detector, matching, p
smoothing, synthesizer) driven block by block on a simulated clock (as
``soundscape render`` does: the vision step runs between the blocks it falls before;
an embedding takes no simulated time, so its measured median time is added to the
reaction), 60 s per view, faster than real time. CPU time can only be measured
**live**: a paced real-time engine (threads, camera pacing, PacedSink), 20 s of
steady state per view after 4 s of warm-up (8 s with ``--quick``, where the offline
runs also shrink to 20 s).

Keys:

* ``embeds_still_vs_moving``: frames embedded in 60 s, still view ÷ changing view
  (goal ≤ 0.1); ``embeds_still_60s``, ``embeds_moving_60s`` (of 240 frames each).
* ``embeds_asleep``: frames embedded in 60 s muted plus 60 s asleep (sleep timer run
  out), on the changing view (goal 0); ``embeds_asleep_live`` the same, live, asleep.
* ``cpu_still_vs_moving``: the process' CPU seconds (``time.process_time``, all
  threads) over the live steady state, still ÷ changing (goal ≤ 0.5);
  ``cpu_asleep_vs_playing``: asleep on the changing view ÷ playing it;
  ``cpu_core_share_<view>``: CPU seconds per second (1.0 = one core).
* ``reaction_s``: median, over the changes of a view cut to another scene every
  2.05 s (the cuts fall at every phase of the 0.25 s frame period; ≥ 20 changes),
  of the time from the cut to the first audio block at whose end 90 % of the sounding
  grains' mass (their gains, left + right) comes from the new scene, plus the median
  embedding time (goal ≤ 0.8 s; ``reaction_sound_s`` without it, for other machines:
  add their embedding time, 20–200 ms on a Pi). A cut whose new scene never gets 90 % of the mass
  before the next cut counts as the slot's length (``reaction_unreached`` counts
  them). ``reaction_p90_s``, and ``reaction_s_before``: the same with the old design
  (every frame embedded, ``p_smoothing_s`` 0.5).
* ``still_p_jitter``: on the still view, the mean total-variation distance between
  the p the grains are drawn from (the synthesizer's smoothed p) at successive
  camera frames; ``still_p_jitter_before`` the same with the old design;
  ``still_p_jitter_published`` / ``_before``: the same for the p the vision loop
  published per frame (kept between embeddings).
* ``embed_ms_median``: the model's time per embedding here, for the Pi figures.
"""

from __future__ import annotations

import time
from dataclasses import replace
from itertools import pairwise

import numpy as np

from appliance.bench import say

#: Length of an offline run (simulated seconds) and of a live steady state (s).
OFFLINE_S, OFFLINE_QUICK_S = 60.0, 20.0
LIVE_S, LIVE_QUICK_S, LIVE_WARM_S = 20.0, 8.0, 4.0
#: The reaction view cuts every this many seconds: 0.05 s off the frame grid each time.
CUT_EVERY_S = 2.05
#: Share of the sounding grains' mass from the new scene that counts as arrived.
ARRIVED = 0.9
CORPUS = "world"
#: The old design for the "before" figures.
BEFORE_P_SMOOTHING_S = 0.5


class EveryFrame:
    """The old design's stand-in for the change detector: every frame is embedded."""

    def __init__(self) -> None:
        from appliance.vision.change import FrameCounts

        self._counts = FrameCounts
        self.resting = False
        self.seen = self.embedded = 0

    @property
    def counts(self):
        return self._counts(self.seen, self.embedded)

    def invalidate(self) -> None:
        pass

    def decide(self, frame, now_s):
        from appliance.vision.change import Decision

        self.seen += 1
        if self.resting:
            return Decision.RESTING
        self.embedded += 1
        return Decision.CHANGE


def _engine(setup, before: bool = False, camera=None, sink=None, **settings_changes):
    from appliance.app import make_cues, make_settings
    from appliance.audio.paced import PacedSink
    from appliance.engine import Engine
    from appliance.state import State

    config, embedder, corpora = setup
    settings = make_settings(config, seed=5)
    for key, value in settings_changes.items():
        setattr(settings, key, value)
    if before:
        settings.params = replace(settings.params, p_smoothing_s=BEFORE_P_SMOOTHING_S)
    if sink is None:
        sink = PacedSink(settings.sample_rate, settings.block_size, config.audio.periods)
    engine = Engine(settings, corpora, embedder, sink, make_cues(settings.sample_rate),
                    camera_opener=(lambda: camera) if camera is not None else None,
                    state=State(corpus=CORPUS, volume=config.volume.initial))
    if before:
        embed_every_frame(engine)
    return engine


def embed_every_frame(engine) -> None:
    """Make ``engine`` embed every frame (the design before vision rested)."""
    engine.vision.detector = engine.controller.detector = engine.detector = EveryFrame()


def _offline(engine, view, seconds: float, on_block=None, on_frame=None) -> None:
    """Drive ``engine`` for ``seconds`` of simulated time, as ``render_offline`` does
    (without a sink); ``on_block(t_end)`` after every block, ``on_frame(t, p)`` after
    every frame's block."""
    s = engine.settings
    period, block_s = 1.0 / s.vision_fps, s.block_size / s.sample_rate
    next_vision = 0.0
    for i in range(int(np.ceil(seconds / block_s))):
        t = i * block_s
        p = None
        if t >= next_vision:
            p = engine.vision.consider(view.frame_at(t), t)
            next_vision += period
        engine.audio.process()
        if on_block is not None:
            on_block(t + block_s)
        if on_frame is not None and p is not None:
            on_frame(t, p)


def _start(engine) -> None:
    engine.controller.select_corpus(engine.controller.initial_index(), announce=False)


def _asleep(engine) -> None:
    """Let the sleep timer run out now (its fade shortened to 0.05 s)."""
    engine.settings.timer_fade_s = 0.05
    engine.set_sleep_timer(0.0001)
    deadline = time.monotonic() + 5.0
    while not engine.controller.sleeping and time.monotonic() < deadline:
        time.sleep(0.02)
        engine.controller.tick()
    if not engine.controller.sleeping:
        raise RuntimeError("the sleep timer did not put the box to sleep")


def _sig(x: float) -> float:
    """``x`` to 3 significant figures (the jitter figures are tiny)."""
    return float(f"{x:.3g}")


def _mean_tv(ps: list[np.ndarray]) -> float:
    """Mean total-variation distance between successive distributions of ``ps``."""
    return float(np.mean([0.5 * np.abs(b - a).sum() for a, b in pairwise(ps)]))


def still_run(setup, view, seconds: float, before: bool) -> dict[str, float]:
    """Embeddings and p jitter on the still view."""
    engine = _engine(setup, before)
    _start(engine)
    heard: list[np.ndarray] = []
    published: list[np.ndarray] = []
    embed_ms: list[float] = []

    def frame(_t, p):
        heard.append(engine.synth.smoothed_p)
        published.append(np.array(p, dtype=np.float64))
        if engine.frames_seen > len(embed_ms):
            embed_ms.append(engine.vision.inference_ms)

    _offline(engine, view, seconds, on_frame=frame)
    skip = 20  # 5 s: the synthesizer's p settling from uniform (10 tau before) is no jitter
    return {
        "embeds": engine.vision_counts.embedded,
        "frames": engine.vision_counts.seen,
        "jitter": _mean_tv(heard[skip:]),
        "jitter_published": _mean_tv(published[skip:]),
        "embed_ms": float(np.median(embed_ms)),
    }


def moving_run(setup, view, seconds: float) -> int:
    engine = _engine(setup)
    _start(engine)
    _offline(engine, view, seconds)
    return engine.vision_counts.embedded


def asleep_run(setup, view, seconds: float) -> int:
    """Frames embedded over ``seconds`` muted, then over ``seconds`` asleep."""
    from appliance.controls.actions import Action

    engine = _engine(setup)
    _start(engine)
    engine.handle(Action.TOGGLE_MUTE)
    _offline(engine, view, seconds)
    muted = engine.vision_counts.embedded
    engine.handle(Action.TOGGLE_MUTE)
    _asleep(engine)
    _offline(engine, view, seconds)
    return muted + (engine.vision_counts.embedded - muted)


def reaction_run(setup, seconds: float, before: bool) -> dict[str, float]:
    """Time from each cut to 90 % of the sounding grains' mass on the new scene."""
    from appliance.bench.views import changing_view

    engine = _engine(setup, before)
    _start(engine)
    corpus = engine.current_corpus
    spans = corpus.scene_spans()
    starts = np.array([a for _, a, _ in spans])
    names = [n for n, _, _ in spans]
    view = changing_view(every_s=CUT_EVERY_S, turn_s=0.0)
    times: list[float] = []
    shares: dict[str, list[float]] = {n: [] for n in dict.fromkeys(names)}

    def block(t_end: float) -> None:
        positions, gains = engine.synth.sounding_voices()
        idx = np.clip(np.searchsorted(starts, positions, side="right") - 1, 0, len(names) - 1)
        total = float(gains.sum()) or 1.0
        times.append(t_end)
        for n in shares:
            mine = np.fromiter((names[i] == n for i in idx), bool, len(idx))
            shares[n].append(float(gains[mine].sum()) / total)

    _offline(engine, view, seconds, on_block=block)
    t = np.array(times)
    out, unreached, settled = [], 0, []
    for k in range(1, int(seconds / CUT_EVERY_S)):
        cut = k * CUT_EVERY_S
        scene = view.label_at(cut + 1e-6).split("/")[0]
        share = np.array(shares[scene])
        slot = (t > cut) & (t <= cut + CUT_EVERY_S)
        arrived = np.nonzero(slot & (share >= ARRIVED))[0]
        settled.append(float(share[slot & (t > cut + 1.2)].mean()))
        if arrived.size:
            out.append(float(t[arrived[0]] - cut))
        else:
            out.append(CUT_EVERY_S)
            unreached += 1
    return {
        "median": float(np.median(out)),
        "p90": float(np.percentile(out, 90)),
        "changes": len(out),
        "unreached": unreached,
        "settled": float(np.median(settled)),
    }


def live_run(setup, view, seconds: float, asleep: bool = False) -> dict[str, float]:
    """CPU seconds and embeddings over ``seconds`` of steady state, live."""
    engine = _engine(setup, camera=view)
    engine.start(announce_ready=False)
    try:
        time.sleep(LIVE_WARM_S)
        if asleep:
            _asleep(engine)
            time.sleep(0.5)
        embedded0, cpu0, wall0 = engine.vision_counts.embedded, time.process_time(), \
            time.monotonic()
        time.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        embedded = engine.vision_counts.embedded - embedded0
        misses = int(getattr(engine.sink, "deadline_misses", 0))
    finally:
        engine.stop()
    return {"cpu_s": cpu, "wall_s": wall, "embeds": embedded, "misses": misses}


def run(quick: bool = False) -> dict[str, float | int | str]:
    from appliance.app import load_corpora, make_embedder
    from appliance.bench.views import SENSOR_NOISE_SIGMA, changing_view, still_view
    from appliance.config import Config

    offline_s = OFFLINE_QUICK_S if quick else OFFLINE_S
    live_s = LIVE_QUICK_S if quick else LIVE_S
    config = Config.default()
    embedder = make_embedder(config)
    setup = (config, embedder, load_corpora(config, embedder, names=[CORPUS]).corpora)
    frames = round(offline_s * config.camera.fps)
    say(f"views: still photo and a scene every 2 s, sensor noise sigma {SENSOR_NOISE_SIGMA:g}; "
        f"corpus {CORPUS}; {offline_s:.0f} s offline runs ({frames} frames), "
        f"{live_s:.0f} s live steady states")

    after = still_run(setup, still_view(), offline_s, before=False)
    before = still_run(setup, still_view(), offline_s, before=True)
    moving = moving_run(setup, changing_view(), offline_s)
    asleep = asleep_run(setup, changing_view(), offline_s)
    say(f"embedded in {offline_s:.0f} s: still {after['embeds']} of {after['frames']}, "
        f"changing {moving} (ratio {after['embeds'] / moving:.3f}, goal <= 0.1); "
        f"muted then asleep {asleep} (goal 0)")
    say(f"still p jitter (mean TV between successive frames' p): heard "
        f"{before['jitter']:.2e} before -> {after['jitter']:.2e} after; published "
        f"{before['jitter_published']:.2e} -> {after['jitter_published']:.2e}")

    embed_ms = before["embed_ms"]
    reaction = reaction_run(setup, max(offline_s, 21 * CUT_EVERY_S + 1), before=False)
    reaction_before = reaction_run(setup, max(offline_s, 21 * CUT_EVERY_S + 1), before=True)
    say(f"reaction over {reaction['changes']} cuts: median {reaction['median']:.3f} s + "
        f"{embed_ms:.0f} ms embedding (goal <= 0.8 s), 90th percentile "
        f"{reaction['p90']:.3f} s, {reaction['unreached']} never reached 90 % (settled "
        f"share {reaction['settled']:.2f}); before: median {reaction_before['median']:.3f} s")

    live = {
        "still": live_run(setup, still_view(), live_s),
        "moving": live_run(setup, changing_view(), live_s),
        "asleep": live_run(setup, changing_view(), live_s, asleep=True),
    }
    share = {k: v["cpu_s"] / v["wall_s"] for k, v in live.items()}
    say("live CPU (share of a core): " + ", ".join(
        f"{k} {share[k]:.3f} ({v['embeds']} embedded, {v['misses']} deadline misses)"
        for k, v in live.items()))
    report: dict[str, float | int | str] = {
        "rest_offline_s": offline_s,
        "rest_live_s": live_s,
        "sensor_noise_sigma": SENSOR_NOISE_SIGMA,
        "embeds_still_60s": after["embeds"],
        "embeds_moving_60s": moving,
        "embeds_still_vs_moving": round(after["embeds"] / moving, 4),
        "embeds_asleep": asleep,
        "embeds_asleep_live": live["asleep"]["embeds"],
        "cpu_still_vs_moving": round(live["still"]["cpu_s"] / live["moving"]["cpu_s"], 3),
        "cpu_asleep_vs_playing": round(live["asleep"]["cpu_s"] / live["moving"]["cpu_s"], 3),
        "reaction_s": round(reaction["median"] + embed_ms / 1000, 3),
        "reaction_sound_s": round(reaction["median"], 3),
        "reaction_p90_s": round(reaction["p90"] + embed_ms / 1000, 3),
        "reaction_changes": reaction["changes"],
        "reaction_unreached": reaction["unreached"],
        "reaction_settled_share": round(reaction["settled"], 3),
        "reaction_s_before": round(reaction_before["median"] + embed_ms / 1000, 3),
        "still_p_jitter": _sig(after["jitter"]),
        "still_p_jitter_before": _sig(before["jitter"]),
        "still_p_jitter_published": _sig(after["jitter_published"]),
        "still_p_jitter_published_before": _sig(before["jitter_published"]),
        "embed_ms_median": round(embed_ms, 1),
    }
    for k, v in share.items():
        report[f"cpu_core_share_{k}"] = round(v, 4)
    return report
