"""Live: a paced real-time run with the vision loop embedding continuously.

48 kHz, block 512, a :class:`PacedSink` with the default 4-period buffer (it
sleeps like a sound card and records every block that arrived after the
buffer would have run dry), the slideshow camera with no frame-rate cap so
the vision thread keeps the other core busy with ResNet50. Reports the
longest block render time divided by the block's duration, and the misses.
"""

from __future__ import annotations

import time

from appliance import DEMO_MEDIA
from appliance.bench import say


def run(quick: bool = False) -> dict[str, object]:
    from appliance.app import load_corpora, make_cues, make_embedder, make_settings
    from appliance.audio.paced import PacedSink
    from appliance.camera.simulated import SlideshowCamera
    from appliance.config import Config
    from appliance.engine import Engine

    seconds = 15.0 if quick else 60.0
    config = Config.default()
    embedder = make_embedder(config)
    corpora = load_corpora(config, embedder, names=["world"]).corpora
    settings = make_settings(config, seed=1)
    settings.vision_fps = 1000.0  # embed back to back: the worst case for the audio thread
    sink = PacedSink(settings.sample_rate, settings.block_size, config.audio.periods)
    camera = SlideshowCamera(DEMO_MEDIA, seconds_per_image=5.0, max_fps=1000.0)
    engine = Engine(
        settings, corpora, embedder, sink, make_cues(settings.sample_rate), lambda: camera
    )
    engine.start(announce_ready=False)
    time.sleep(seconds)
    engine.stop()
    snap = engine.snapshot
    frames = engine._frames_seen
    block_ms = 1000 * settings.block_size / settings.sample_rate
    say(
        f"{seconds:.0f} s paced at {settings.sample_rate} Hz, block {settings.block_size} "
        f"({block_ms:.1f} ms): {engine.blocks} blocks, {sink.deadline_misses} deadline misses, "
        f"longest render {engine.max_render_ratio * block_ms:.2f} ms "
        f"(ratio {engine.max_render_ratio:.3f}); vision {frames} frames "
        f"({frames / seconds:.1f} fps, last inference {snap.inference_ms:.0f} ms)"
    )
    return {
        "live_seconds": seconds,
        "block_render_max_ratio": round(engine.max_render_ratio, 4),
        "deadline_misses": int(sink.deadline_misses),
        "live_blocks": int(engine.blocks),
        "live_vision_fps": round(frames / seconds, 2),
    }
