"""Level: how loud each demo corpus plays at full volume, and what the limiter does to it.

For every demo corpus (``appliance.config.DEFAULT_CORPORA``) the synthesizer renders
at full volume on the appliance's volume scale (``appliance.synth.volume``: the corpus
normalized to ``FULL_VOLUME_LUFS``), with p over the whole corpus, the paper's grain
settings and a fixed seed, after a 2 s fade-in. The same seed rendered at a 20 dB
lower master volume, where the limiter does nothing (checked: its peaks stay under the
limiter's threshold), gives the signal the limiter sees, exactly (the grains do not
depend on the volume).

``loudness_full_lufs_<corpus>``: integrated loudness (EBU R128) at full volume; the goal
is at least −18 LUFS. ``peak_full_dbfs_<corpus>``: its sample peak (at most −1 dBFS,
the ceiling). ``limiter_gr_db_<corpus>``: the limiter's average gain reduction, dB: per
512-sample block, the level before the limiter minus the level after it, averaged over
the blocks (the goal is at most 2 dB: transparent). The same with p on each scene in turn (a wearer
facing one scene): ``loudness_full_min_scene_lufs_<corpus>`` (the quietest scene) and
``limiter_gr_max_scene_db_<corpus>`` (the most limited one). ``default_volume_lufs`` is the
loudness of the volume scale's default step, for the record (what the box plays
indoors on a first start).
"""

from __future__ import annotations

import numpy as np

from appliance.bench import say

SAMPLE_RATE = 48000
BLOCK = 512
SEED = 7
#: Master volume of the reference render: 20 dB down, where the limiter is idle.
QUIET = 0.1


def _render(granulator, seconds: float) -> np.ndarray:
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    blocks = []
    for _ in range(round(seconds * SAMPLE_RATE / BLOCK)):
        granulator.render(out)
        blocks.append(out.copy())
    return np.concatenate(blocks)


def measure_corpus(
    corpus, seconds: float, skip_s: float = 2.0, p: np.ndarray | None = None
) -> dict[str, float]:
    """Full-volume figures for one corpus with ``p`` over its keyframes (None: uniform):
    ``lufs``, ``peak_dbfs``, ``gr_db`` (mean gain reduction, dB) and ``gr_max_db`` (its
    largest block), from ``seconds`` of audio after ``skip_s`` of fade-in."""
    from appliance.synth import GrainParams, Granulator, Source, measure_loudness
    from appliance.synth.limiter import THRESHOLD_BELOW_CEILING_DB
    from appliance.synth.volume import full_volume_params

    params = full_volume_params(GrainParams())
    source = Source.from_corpus(corpus)
    renders = []
    for volume in (1.0, QUIET):
        g = Granulator(SAMPLE_RATE, BLOCK, params, seed=SEED)
        g.set_source(source, p)
        g.set_volume(volume)
        renders.append(_render(g, seconds + skip_s)[round(skip_s * SAMPLE_RATE) :])
    full, quiet = renders
    threshold = 10.0 ** ((params.limiter_ceiling_dbfs - THRESHOLD_BELOW_CEILING_DB) / 20.0)
    if float(np.abs(quiet).max()) > threshold:
        raise RuntimeError(f"{corpus.name}: the reference render reached the limiter")
    before = quiet / QUIET
    n = len(full) // BLOCK * BLOCK
    after_rms = np.sqrt(np.mean(full[:n].reshape(-1, BLOCK, 2) ** 2, axis=(1, 2)))
    before_rms = np.sqrt(np.mean(before[:n].reshape(-1, BLOCK, 2) ** 2, axis=(1, 2)))
    sounding = before_rms > 1e-4  # −80 dBFS: a block of silence has no gain to speak of
    gr = 20.0 * np.log10(before_rms[sounding] / np.maximum(after_rms[sounding], 1e-12))
    return {
        "lufs": measure_loudness(full, SAMPLE_RATE),
        "peak_dbfs": 20.0 * float(np.log10(np.abs(full).max())),
        "gr_db": float(gr.mean()) if gr.size else 0.0,
        "gr_max_db": float(gr.max()) if gr.size else 0.0,
    }


def run(quick: bool = False) -> dict[str, float | int | str]:
    from appliance.config import DEFAULT_CORPORA
    from appliance.corpus import ensure_demo_corpora, load_corpus
    from appliance.synth.volume import DEFAULT_VOLUME, FULL_VOLUME_LUFS, volume_lufs
    from appliance.vision.embedder import Embedder

    seconds = 15.0 if quick else 60.0
    dirs = ensure_demo_corpora(Embedder(num_threads=2), list(DEFAULT_CORPORA), quiet=True)
    report: dict[str, float | int | str] = {
        "full_volume_target_lufs": FULL_VOLUME_LUFS,
        "default_volume_lufs": round(volume_lufs(DEFAULT_VOLUME), 2),
    }
    for directory in dirs:
        corpus = load_corpus(directory)
        name = corpus.name
        m = measure_corpus(corpus, seconds)
        say(
            f"{name}: {m['lufs']:.1f} LUFS at full volume (goal >= -18), peak "
            f"{m['peak_dbfs']:.2f} dBFS (ceiling -1), limiter gain reduction "
            f"{m['gr_db']:.2f} dB on average (goal <= 2), {m['gr_max_db']:.2f} dB at most"
        )
        report[f"loudness_full_lufs_{name}"] = round(m["lufs"], 2)
        report[f"peak_full_dbfs_{name}"] = round(m["peak_dbfs"], 2)
        report[f"limiter_gr_db_{name}"] = round(m["gr_db"], 3)
        scenes = np.asarray(corpus.scenes)
        per_scene = {
            scene: measure_corpus(corpus, seconds / 3, p=(scenes == scene).astype(float))
            for scene in dict.fromkeys(corpus.scenes)
        }
        quietest = min(per_scene, key=lambda s: per_scene[s]["lufs"])
        worst_gr = max(per_scene, key=lambda s: per_scene[s]["gr_db"])
        say(
            f"  p on one scene: quietest {quietest} {per_scene[quietest]['lufs']:.1f} LUFS, "
            f"most limited {worst_gr} {per_scene[worst_gr]['gr_db']:.2f} dB, peaks at most "
            f"{max(v['peak_dbfs'] for v in per_scene.values()):.2f} dBFS"
        )
        report[f"loudness_full_min_scene_lufs_{name}"] = round(per_scene[quietest]["lufs"], 2)
        report[f"limiter_gr_max_scene_db_{name}"] = round(per_scene[worst_gr]["gr_db"], 3)
    return report
