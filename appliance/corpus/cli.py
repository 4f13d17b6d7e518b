"""``soundscape corpus build`` and ``soundscape match``."""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path

from appliance import DEFAULT_MODEL


def _embedder(args: argparse.Namespace):
    from appliance.vision.embedder import Embedder

    return Embedder(Path(args.model), num_threads=args.threads)


def _terminate_cleanly():
    """SIGTERM ends a build like Ctrl-C: the half-built folder is removed on the way out.

    Returns the previous handler (None when not on the main thread)."""
    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        return signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread
        return None


def _cmd_build(args: argparse.Namespace) -> int:
    from appliance.corpus.builder import build_corpus
    from appliance.corpus.progress import ProgressLine

    line = ProgressLine()
    previous = _terminate_cleanly()
    try:
        corpus = build_corpus(Path(args.source), Path(args.output), _embedder(args),
                              keyframe_interval_s=args.interval, progress=line, name=args.name)
    finally:
        line.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    build = corpus.manifest.get("build", {})
    print(f"Built corpus {corpus.name!r} in {corpus.path}: {corpus.duration_s:.1f} s of audio "
          f"({corpus.channels} ch), {corpus.num_keyframes} keyframes, "
          f"{len(corpus.scene_names)} scene(s), {corpus.loudness_lufs:.1f} LUFS, "
          f"{build.get('seconds', 0):.1f} s.")
    return 0


def _cmd_match(args: argparse.Namespace) -> int:
    from appliance.corpus.fileformat import load_corpus
    from appliance.corpus.library import resolve_corpus
    from appliance.corpus.matcher import Matcher
    from appliance.corpus.model_id import model_sha256
    from appliance.vision.images import load_rgb

    embedder = _embedder(args)
    corpus = load_corpus(resolve_corpus(args.corpus, embedder), model_sha256(embedder.model_path))
    matcher = Matcher(corpus)
    for image in args.images:
        rgb = load_rgb(Path(image))
        x = embedder.embed_full(rgb) if matcher.needs_feature_map else embedder.embed(rgb)
        d = matcher.distances(x)
        p = matcher.probabilities_from_distances(d, matcher.known_confidence(x, d))
        scenes = matcher.scene_masses(p)
        segments = matcher.segment_masses(p)
        top = matcher.top(p, d, args.top)
        elsewhere = matcher.background_share(x, d)  # the pull of ordinary places, 0 … 1
        if args.json:
            print(json.dumps({
                "image": str(image),
                "scenes": {k: round(v, 6) for k, v in scenes.items()},
                "segments": {k: round(v, 6) for k, v in segments.items()},
                "background": round(elsewhere, 6),
                "top": [{"time": round(t["time"], 3), "scene": t["scene"],
                         "distance": round(t["distance"], 6), "p": round(t["p"], 6)}
                        for t in top],
            }), flush=True)
            continue
        print(f"{image}  (corpus {corpus.name}, {corpus.num_keyframes} keyframes)")
        for name, mass in sorted(scenes.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<12} {100 * mass:5.1f} %  {'#' * round(40 * mass)}")
        for name, mass in sorted(segments.items(), key=lambda kv: -kv[1]):
            if mass >= 0.005:
                print(f"    segment {name:<10} {100 * mass:5.1f} %")
        if matcher.has_background:
            print(f"  nearer to ordinary places than to the corpus: {100 * elsewhere:5.1f} %")
        print("  top keyframes:")
        for t in top:
            where = t["scene"] + (f"/{t['segment']}" if t["segment"] else "")
            var = f" [{t['variant']}]" if t["variant"] else ""
            print(f"    {t['time']:8.2f} s  {where:<16} p={t['p']:.4f}  "
                  f"d={t['distance']:.3f}  {t['origin']}{var}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="the TFLite embedding model")
    p.add_argument("--threads", type=int, default=2, help="TFLite threads (default 2)")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``corpus`` (with ``build``) and ``match`` on the CLI's sub-parsers."""
    corpus = sub.add_parser("corpus", help="build reference corpora")
    csub = corpus.add_subparsers(dest="corpus_command", required=True)
    b = csub.add_parser(
        "build", help="build a corpus from a video, a folder of videos or a scene manifest",
        description="SOURCE: a video with sound, a folder of videos (concatenated in name "
                    "order) or a scene manifest (.toml; see corpora/README.md).")
    b.add_argument("source", metavar="SOURCE")
    b.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="corpus directory to create (an existing corpus there is replaced)")
    b.add_argument("--interval", type=float, default=1.0, metavar="S",
                   help="seconds between video keyframes (default 1)")
    b.add_argument("--name", help="corpus name for a video source (default: its file name)")
    _common(b)
    b.set_defaults(func=_cmd_build)

    m = sub.add_parser("match", help="which parts of a corpus an image calls up")
    m.add_argument("--corpus", required=True, metavar="NAME_OR_DIR",
                   help="a corpus directory or a library name (e.g. world)")
    m.add_argument("images", nargs="+", metavar="IMAGE")
    m.add_argument("--json", action="store_true", help="one JSON object per image per line")
    m.add_argument("--top", type=int, default=5, help="how many top keyframes (default 5)")
    _common(m)
    m.set_defaults(func=_cmd_match)
