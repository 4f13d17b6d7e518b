"""Live: a paced real-time run with the vision loop embedding continuously.

48 kHz, block 512, a :class:`PacedSink` with the default 4-period buffer (it
sleeps like a sound card and records every block that arrived after the
buffer would have run dry), the slideshow camera with no frame-rate cap and
every frame embedded (vision that rests is switched off here) so the vision
thread keeps the other core busy with ResNet50, and a press of
"next corpus" every 6 s (loading a corpus and its matcher on the control
thread, crossfading in the audio thread). Reports the longest block render
time divided by the block's duration, the misses, and how much the resident
memory grew after the first round of corpora (a box runs for days).
"""

from __future__ import annotations

import time

from appliance import DEMO_MEDIA
from appliance.bench import memory_bytes, say

#: Seconds between two presses of "next corpus".
SWITCH_EVERY_S = 6.0


def _memory_mb() -> dict[str, float]:
    """Resident memory in MB: all of it, and the anonymous part (see memory_bytes)."""
    return {key: memory_bytes(key) / 2**20 for key in ("VmRSS", "RssAnon")}


def run(quick: bool = False) -> dict[str, object]:
    from appliance.app import load_corpora, make_cues, make_embedder, make_settings
    from appliance.audio.paced import PacedSink
    from appliance.bench.rest import embed_every_frame
    from appliance.camera.simulated import SlideshowCamera
    from appliance.config import Config
    from appliance.engine import Engine

    seconds = 15.0 if quick else 60.0
    config = Config.default()
    embedder = make_embedder(config)
    corpora = load_corpora(config, embedder).corpora  # all five demo corpora
    settings = make_settings(config, seed=1)
    settings.vision_fps = 1000.0  # embed back to back: the worst case for the audio thread
    sink = PacedSink(settings.sample_rate, settings.block_size, config.audio.periods)
    camera = SlideshowCamera(DEMO_MEDIA, seconds_per_image=5.0, max_fps=1000.0)
    engine = Engine(
        settings, corpora, embedder, sink, make_cues(settings.sample_rate), lambda: camera
    )
    embed_every_frame(engine)  # no rest: the worst case is every frame embedded
    engine.start(announce_ready=False)
    t0 = time.monotonic()
    switches = 0
    mem_after_round: dict[str, float] | None = None
    while (left := seconds - (time.monotonic() - t0)) > 0:
        time.sleep(min(SWITCH_EVERY_S, left))
        if time.monotonic() - t0 < seconds - 1.0:
            engine.select_corpus(engine.corpus_index + 1)  # what the "next" button does
            switches += 1
            if switches == len(corpora):  # every corpus loaded once: the baseline
                mem_after_round = _memory_mb()
    mem_end = _memory_mb()
    engine.stop()
    snap = engine.snapshot
    frames = engine.frames_seen
    block_ms = 1000 * settings.block_size / settings.sample_rate
    # Where each dropout fell (s into what a listener heard) and how long it was (ms): a
    # miss during a corpus switch (every SWITCH_EVERY_S) points at the load, one elsewhere
    # at the host's scheduling.
    misses = [
        (first / settings.sample_rate, 1000 * silent / settings.sample_rate)
        for first, silent in sink.dropouts
    ]
    say(
        f"{seconds:.0f} s paced at {settings.sample_rate} Hz, block {settings.block_size} "
        f"({block_ms:.1f} ms): {engine.blocks} blocks, {sink.deadline_misses} deadline misses"
        + "".join(f" (at {at:.1f} s, {late:.1f} ms late)" for at, late in misses)
        + ", "
        f"longest render {engine.max_render_ratio * block_ms:.2f} ms "
        f"(ratio {engine.max_render_ratio:.3f}); vision {frames} frames "
        f"({frames / seconds:.1f} fps, last inference {snap.inference_ms:.0f} ms); "
        f"{switches} corpus switches"
        + (
            f"; resident {mem_end['VmRSS']:.0f} MB ({mem_end['RssAnon']:.0f} MB anonymous), "
            f"{mem_end['VmRSS'] - mem_after_round['VmRSS']:+.1f} MB "
            f"({mem_end['RssAnon'] - mem_after_round['RssAnon']:+.1f} MB anonymous) since every "
            "corpus had been loaded once"
            if mem_after_round is not None
            else ""
        )
    )
    return {
        "live_seconds": seconds,
        "block_render_max_ratio": round(engine.max_render_ratio, 4),
        "deadline_misses": int(sink.deadline_misses),
        "deadline_miss_max_ms": round(1000 * sink.longest_gap_s, 2),
        "live_blocks": int(engine.blocks),
        "live_vision_fps": round(frames / seconds, 2),
        "live_corpus_switches": switches,
        "live_rss_mb": round(mem_end["VmRSS"], 1),
        "live_anon_mb": round(mem_end["RssAnon"], 1),
        "live_anon_growth_mb": (
            round(mem_end["RssAnon"] - mem_after_round["RssAnon"], 1)
            if mem_after_round is not None
            else None
        ),
    }
