"""Matching: one p update for a 10-hour corpus (36,000 keyframes × 2048), and corpus opening.

``match_ms_36k``: median ms of ``Matcher.probabilities`` (transform, distances
to all 36,000 int8 keyframes, the mapping) for one frame; the budget is 10 ms.
``match_cpu_ms_36k``: the process CPU time of one update (unaffected by
other processes sharing the cores, unlike the wall-clock figure).
``match_embeddings_mb_36k``: memory of those embeddings as the matcher holds
them (int8 rows + per-row scales + squared norms + the class part: each
keyframe's 32 top classes and their √posterior + the kind part: its 8 top
kinds and their √mass); the budget is 80 MB.
``match_ms_36k_visual_only``: the same update without the ImageNet classes (the
reference, measured in the same run; ``match_ms_36k_vs_visual_only`` the ratio).
``scene_part_ms_36k``: of that update, the scene part (discriminant.py);
``scene_fit_s_36k``: fitting it for 36,000 keyframes at build time.
``classes_ms``: of that update, what the ImageNet classes add: the head's
1000 × 2048 product, the unknown-sight check (known.py) and the class and kind
parts of the distances (classpart.py); ``classes_ms_ratio`` is it over ``match_ms_36k``.
``background_ms``: of that update, the background (background.py): the distances to
its ``BG_ROWS`` rows in the joint space and the share ``b`` of the kernel on them.
Also: the same update for the demo ``world`` corpus (dense float32 path), the
time to open (load and validate) it, and, unless ``quick``, the time to build
every demo corpus from scratch.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from appliance import DEFAULT_MODEL
from appliance.bench import say, time_it

K_LONG = 36_000  # 10 hours at one keyframe per second
BG_ROWS = 360  # 120 background photos × 3 variants
DIM = 2048


def synthetic_corpus(k: int = K_LONG, dim: int = DIM, seed: int = 0):
    """A Corpus of ``k`` keyframes with realistic-looking (sqrt, L2-normalized) int8 rows."""
    from appliance.corpus import known
    from appliance.corpus.builder import DEFAULT_FEATURES
    from appliance.corpus.calibrate import D_FAR, D_NEAR, DEFAULT_TAU
    from appliance.corpus.classpart import CLASS_TOP
    from appliance.corpus.fileformat import Corpus
    from appliance.corpus.mapping import MappingParams
    from appliance.corpus.quantize import quantize_rows

    rng = np.random.default_rng(seed)
    rows = []
    for start in range(0, k, 4096):  # in chunks: float32 36k × 2048 would be 295 MB
        x = np.sqrt(rng.gamma(0.3, 1.0, (min(4096, k - start), dim)).astype(np.float32))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        rows.append(quantize_rows(x))
    q = np.concatenate([r[0] for r in rows])
    scales = np.concatenate([r[1] for r in rows])
    scenes = [f"scene{i // 3600}" for i in range(k)]
    # Each keyframe's class part (classpart.py): its top classes and their √posterior.
    idx = np.stack([rng.choice(1000, CLASS_TOP, replace=False) for _ in range(k)]).astype(
        np.int16)
    sq = rng.dirichlet(np.full(CLASS_TOP, 0.3), k)
    sq = np.rint(np.sqrt(sq) * 255).astype(np.uint8)
    # The scene part (discriminant.py): one axis fewer than the scenes, as a fit gives.
    names = list(dict.fromkeys(scenes))
    axes = rng.normal(0, 1, (dim, max(1, len(names) - 1))).astype(np.float32)
    centres = rng.normal(0, 1, (len(names), axes.shape[1])).astype(np.float32)
    bg = np.sqrt(rng.gamma(0.3, 1.0, (BG_ROWS, dim)).astype(np.float32))
    bg_q, bg_scales = quantize_rows(bg / np.linalg.norm(bg, axis=1, keepdims=True))
    return Corpus(
        path=Path("synthetic"), name="synthetic", spoken_name="synthetic", description="",
        sample_rate=48000, channels=1, duration_s=float(k),
        keyframe_times=np.arange(k, dtype=np.float64),
        scenes=scenes, segments=[""] * k, loudness_lufs=-20.0, credits="",
        audio=np.zeros((k * 48000 // 1000, 1), np.int16), model_sha256="0" * 64,
        announcement=None, embeddings=q, scales=scales, features=DEFAULT_FEATURES,
        matching=MappingParams(DEFAULT_TAU, 0.01, D_NEAR, D_FAR, known.KNOWN_LO,
                               known.KNOWN_HI, known.GAIN), origins=["x"] * k,
        variants=[""] * k, scene_names=list(dict.fromkeys(scenes)), segment_labels=[],
        manifest={"scene_spans": []},
        class_support=rng.uniform(0, 0.2, (len(names), 1000)).astype(np.float32),
        class_index=idx, class_sqrt=sq, scene_axes=axes, scene_centres=centres,
        background_embeddings=bg_q, background_scales=bg_scales,
        background_class_index=idx[:BG_ROWS], background_class_sqrt=sq[:BG_ROWS],
        background_centre=centres[0], background_share=0.05,
    )


def run(quick: bool = False) -> dict[str, object]:
    from appliance.corpus import Matcher, ensure_demo_corpora, load_corpus

    repeat = 20 if quick else 200
    out: dict[str, object] = {}
    corpus = synthetic_corpus()
    t0 = time.perf_counter()
    m = Matcher(corpus)
    out["match_setup_ms_36k"] = round(1000 * (time.perf_counter() - t0), 1)
    rng = np.random.default_rng(1)
    frame = np.maximum(rng.normal(0.3, 0.5, DIM), 0).astype(np.float32)
    m.probabilities(frame)  # compile the kernel (cached on disk afterwards)
    times = time_it(lambda: m.probabilities(frame), repeat)
    out["match_ms_36k"] = round(1000 * statistics.median(times), 2)
    out["match_ms_36k_p95"] = round(1000 * float(np.quantile(times, 0.95)), 2)
    # CPU time per update: what the update costs whatever else the machine is running
    # (the wall-clock figures above grow when other processes share the cores).
    c0 = time.process_time()
    for _ in range(repeat):
        m.probabilities(frame)
    out["match_cpu_ms_36k"] = round(1000 * (time.process_time() - c0) / repeat, 2)
    from appliance.corpus import classpart

    d36 = m.distances(frame)

    def class_work() -> None:
        m._last_vector = None  # no cached posterior: the whole per-frame cost
        m.known_confidence(frame, d36)
        posterior = m.posterior(frame)
        classpart.squared_distances(np.sqrt(posterior), *m.keyframes.classes)
        classpart.squared_distances(classpart.frame_kinds(posterior), *m.keyframes.kinds)

    cls_times = time_it(class_work, repeat)
    bg_times = time_it(lambda: m.background_share(frame, d36.copy()), repeat)
    out["background_ms"] = round(1000 * statistics.median(bg_times), 3)
    out["classes_ms"] = round(1000 * statistics.median(cls_times), 3)
    out["classes_ms_ratio"] = round(out["classes_ms"] / out["match_ms_36k"], 3)
    # The reference, side by side: the same update on the visual part alone (no class
    # part, no unknown-sight check), as before the ImageNet classes came in.
    visual = Matcher(corpus)
    visual._class_weight, visual._kind_weight, visual._head = 0.0, 0.0, None
    visual._scene_weight, visual.background = 0.0, None
    vis_times = time_it(lambda: visual.probabilities(frame), repeat)
    out["match_ms_36k_visual_only"] = round(1000 * statistics.median(vis_times), 2)
    out["match_ms_36k_vs_visual_only"] = round(
        out["match_ms_36k"] / out["match_ms_36k_visual_only"], 3)
    # Placing the likely keyframes left or right from the 7×7 feature map (direction.py).
    fmap = np.maximum(rng.normal(0.3, 0.5, (7, 7, DIM)), 0).astype(np.float32)
    p36 = m.probabilities(frame)
    pos_times = time_it(lambda: m.positions(fmap, p36), repeat)
    out["match_positions_ms_36k"] = round(1000 * statistics.median(pos_times), 2)
    mb = (m.keyframes.nbytes
          + m._scene_axes.nbytes + m._scene_centres.nbytes) / 1e6
    out["match_embeddings_mb_36k"] = round(mb, 1)
    from appliance.corpus import discriminant

    v = m.transform(frame)
    scene_times = time_it(lambda: discriminant.scene_terms(
        v, m._scene_axes, m._scene_centres, m.features.scene_compression)[m._scene_idx],
        repeat)
    out["scene_part_ms_36k"] = round(1000 * statistics.median(scene_times), 3)
    if not quick:
        # Fitting the scene part is build-time work: (36,000 × 2048) scatter + eigenproblem.
        rows = corpus.embeddings.astype(np.float32) * corpus.scales[:, None]
        t0 = time.perf_counter()
        discriminant.fit(rows, m._scene_idx)
        out["scene_fit_s_36k"] = round(time.perf_counter() - t0, 2)
        del rows
    say(f"36,000 keyframes: p update {out['match_ms_36k']} ms median "
        f"(p95 {out['match_ms_36k_p95']} ms, CPU {out['match_cpu_ms_36k']} ms; budget 10), "
        f"embeddings {mb:.1f} MB (budget 80), matcher set-up {out['match_setup_ms_36k']} ms, "
        f"left/right places {out['match_positions_ms_36k']} ms, of the update the "
        f"ImageNet classes {out['classes_ms']} ms (without them "
        f"{out['match_ms_36k_visual_only']} ms), the scene part {out['scene_part_ms_36k']} ms, "
        f"the background {out['background_ms']} ms "
        f"(fitting it at build time {out.get('scene_fit_s_36k', '-')} s) "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")

    if DEFAULT_MODEL.is_file():
        from appliance.vision.embedder import Embedder

        embedder = Embedder(DEFAULT_MODEL, num_threads=2)
        with tempfile.TemporaryDirectory() as tmp:
            if not quick:
                os.environ["SOUNDSCAPE_CACHE"], old = tmp, os.environ.get("SOUNDSCAPE_CACHE")
                try:
                    t0 = time.perf_counter()
                    dirs = ensure_demo_corpora(embedder, quiet=True)
                    out["demo_corpora_build_s"] = round(time.perf_counter() - t0, 1)
                finally:
                    if old is None:
                        os.environ.pop("SOUNDSCAPE_CACHE", None)
                    else:
                        os.environ["SOUNDSCAPE_CACHE"] = old
                say(f"all {len(dirs)} demo corpora built from scratch in "
                    f"{out['demo_corpora_build_s']} s")
                world = dirs[0]
            else:
                world = ensure_demo_corpora(embedder, ["world"], quiet=True)[0]
            open_s = time_it(lambda: load_corpus(world), 5 if quick else 20, warmup=1)
            out["corpus_open_ms_world"] = round(1000 * statistics.median(open_s), 1)
            wm = Matcher(load_corpus(world))
            x = embedder.embed(np.full((224, 224, 3), 120, np.uint8))
            w_times = time_it(lambda: wm.probabilities(x), repeat)
            out["match_ms_world"] = round(1000 * statistics.median(w_times), 3)
            say(f"world corpus ({wm.corpus.num_keyframes} keyframes, "
                f"{wm.corpus.duration_s:.0f} s): opens in {out['corpus_open_ms_world']} ms, "
                f"p update {out['match_ms_world']} ms")
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv)))
