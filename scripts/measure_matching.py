#!/usr/bin/env python3
"""How well matching generalizes to new photos, and how unsure it is of unknown sights.

Held-out protocol (leave one photo out): for each photo of the ``world``
manifest, a corpus is assembled in memory from every *other* photo (with
the variants under test), exactly as the builder would place, transform,
quantize and calibrate it; the held-out photo is then matched against it.
Reported per configuration:

- ``top1``: how often the held-out photo's own scene gets the largest mass;
- ``own``: the mean mass on its own scene (chance is the scene's share of
  the timeline, ~13 % on average);
- ``ood_max``: the largest scene mass any out-of-domain image gets from the
  full corpus (synthetic images made here, plus any ``--ood`` photos); the
  uniform distribution itself gives the longest scene's share, 23 % (farm);
- ``alt``: mean own-scene mass for altered copies (darker, brighter, an
  off-centre crop) of photos that *are* in the corpus.

Usage: ``.venv/bin/python scripts/measure_matching.py [--ood IMAGE ...]``
(add ``--cache FILE`` to keep the embeddings between runs).

``--dev``: instead, the figures that count, on the development set of new
photos (corpora/dev: scenes, animal segments and ``none`` photos that no
corpus holds) against the built ``world`` corpus, with one line per photo:
right-scene rate, mean mass on the right scene, segment rate, the largest
single-scene mass of any ``none`` photo (appliance/bench/devset.py; the
same four figures are in ``scripts/bench``'s JSON).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance import CORPORA_DIR, DEFAULT_MODEL  # noqa: E402
from appliance.corpus import calibrate as cal  # noqa: E402
from appliance.corpus.augment import VARIANTS, apply_variant  # noqa: E402
from appliance.corpus.builder import (  # noqa: E402
    CENTER,
    DEFAULT_FEATURES,
    DEFAULT_VARIANTS,
    SAMPLE_RATE,
)
from appliance.corpus.features import FeatureSpace  # noqa: E402
from appliance.corpus.manifest import read_scene_manifest  # noqa: E402
from appliance.corpus.mapping import MappingParams, probabilities  # noqa: E402
from appliance.corpus.quantize import dequantize_rows, quantize_rows  # noqa: E402
from appliance.corpus.timeline import plan_keyframes  # noqa: E402
from appliance.vision.embedder import Embedder  # noqa: E402
from appliance.vision.images import load_rgb  # noqa: E402


@dataclass(frozen=True)
class Config:
    label: str
    features: FeatureSpace
    center: bool = False
    variants: tuple[str, ...] = ("",)
    prior: str = "span"  # "span": p ∝ span·exp(−d/τ); "count": every keyframe alike
    tau: str = "corpus"  # "corpus": calibrated per corpus; "frame": from each frame's spread
    confidence: bool = True
    quantize: bool = True
    tau_fraction: float = cal.TAU_FRACTION

def synthetic_ood(size: int = 480) -> dict[str, np.ndarray]:
    """Images that are no outdoor scene: flat wall, noise, gradient, stripes, a 'room'."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    wall = np.clip(200 + rng.normal(0, 6, (size, size, 1)), 0, 255) * np.array([1.0, 0.97, 0.9])
    grad = np.stack([255 * xx, 255 * yy, 255 * (1 - xx)], axis=-1)
    stripes = np.repeat(((np.sin(xx * 40) > 0) * 220 + 20)[..., None], 3, axis=-1)
    room = np.empty((size, size, 3), np.float32)
    room[:] = (235, 228, 215)  # a wall ...
    room[int(size * 0.7):] = (120, 80, 50)  # ... a wooden floor ...
    a, b = int(size * 0.1), int(size * 0.2)
    room[b : int(size * 0.55), a : int(size * 0.4)] = (40, 60, 90)  # ... a screen ...
    room[size // 2 : int(size * 0.75), size // 2 : int(size * 0.95)] = (150, 40, 40)  # ... a sofa
    checker = ((np.floor(xx * 8) + np.floor(yy * 8)) % 2)[..., None] * np.array([230.0, 230, 230])
    imgs = {
        "flat wall": wall,
        "noise": rng.integers(0, 256, (size, size, 3)),
        "gradient": grad,
        "stripes": stripes,
        "drawn room": room + rng.normal(0, 4, room.shape),
        "checkerboard": checker + 10,
        "black": np.full((size, size, 3), 4.0),
    }
    return {k: np.clip(v, 0, 255).astype(np.uint8) for k, v in imgs.items()}


def altered(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """Views a camera might get of a known photo: exposure, framing, focus, colour."""
    from PIL import Image, ImageFilter

    h, w = rgb.shape[:2]
    f = rgb.astype(np.float32)
    grey = f @ np.array([0.299, 0.587, 0.114], np.float32)
    small = Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(radius=max(h, w) / 150))
    return {
        "darker": np.clip(f * 0.55, 0, 255).astype(np.uint8),
        "brighter": np.clip(f * 1.4 + 20, 0, 255).astype(np.uint8),
        "crop": np.ascontiguousarray(rgb[h // 10 : h - h // 5, w // 5 : w - w // 20]),
        "corner quarter": np.ascontiguousarray(rgb[: h // 2, : w // 2]),
        "blurred": np.asarray(small),
        "greyscale": np.repeat(grey[..., None], 3, axis=-1).astype(np.uint8),
        "warm tint": np.clip(f * np.array([1.15, 1.0, 0.75]), 0, 255).astype(np.uint8),
    }


class Embeddings:
    """Pooled vectors (mean and GeM) of every photo × variant, plus extra images."""

    def __init__(self, embedder: Embedder, cache: Path | None) -> None:
        self.embedder = embedder
        self.cache_path = cache
        self.store: dict[str, np.ndarray] = {}
        if cache is not None and cache.is_file():
            with np.load(cache, allow_pickle=False) as z:
                self.store = {k: z[k] for k in z.files}

    def get(self, key: str, rgb_fn) -> np.ndarray:
        """(2, D): the mean-pooled and the GeM-pooled vector."""
        if key not in self.store:
            emb = self.embedder.embed_full(rgb_fn())
            gem = FeatureSpace(pooling="gem").pool(emb.vector, emb.feature_map)
            self.store[key] = np.stack([emb.vector, gem])
        return self.store[key]

    def save(self) -> None:
        if self.cache_path is not None:
            np.savez(self.cache_path, **self.store)


def _pooled(vecs: np.ndarray, space: FeatureSpace) -> np.ndarray:
    return vecs[..., 0 if space.pooling == "mean" else 1, :]


def assemble(cfg: Config, manifest, durations, emb: Embeddings, photos_rgb, exclude=frozenset()):
    plan, _ = plan_keyframes(manifest, durations, cfg.variants, exclude)
    raw = np.stack([emb.get(f"{k.photo}|{k.variant}",
                            lambda k=k: apply_variant(k.variant, photos_rgb(k.photo)))
                    for k in plan])
    pooled = _pooled(raw, cfg.features)
    space = cfg.features.fit_center(pooled) if cfg.center else cfg.features
    vecs = space.finish(pooled)
    if cfg.quantize:
        vecs = dequantize_rows(*quantize_rows(vecs))
    times = np.array([k.time for k in plan])
    total = sum(durations[a] for s in manifest.scenes for a in s.audio)
    spans = np.diff(np.append(times, total))
    uniform = spans / spans.sum()
    groups = np.array([hash(k.photo) % (1 << 31) for k in plan])
    originals = np.array([k.variant == "" for k in plan])
    params = cal.calibrate(vecs, groups, originals, tau_fraction=cfg.tau_fraction,
                           confidence=cfg.confidence)
    scenes = np.array([k.scene for k in plan])
    return space, vecs, uniform, params, scenes


def match(cfg: Config, space, vecs, uniform, params, raw_query: np.ndarray) -> np.ndarray:
    q = space.finish(_pooled(raw_query, space))
    d = np.sqrt(np.maximum(((vecs - q) ** 2).sum(1), 0))
    prior = uniform if cfg.prior == "span" else np.full_like(uniform, 1 / len(uniform))
    if cfg.tau == "frame":
        tau = cfg.tau_fraction * float(np.median(d) - d.min()) + 1e-9
        params = MappingParams(tau=tau, floor=params.floor, d_near=params.d_near,
                               d_far=params.d_far)
    p = probabilities(d, prior, params)
    if cfg.prior != "span":  # floor/relaxation over keyframes alike, to compare like with like
        p = p / p.sum()
    return p


def scene_mass(p: np.ndarray, scenes: np.ndarray, names: list[str]) -> dict[str, float]:
    return {n: float(p[scenes == n].sum()) for n in names}


def evaluate(cfg: Config, manifest, durations, emb, photos_rgb, ood: dict[str, np.ndarray]):
    names = [s.name for s in manifest.scenes]
    scene_of = {p: s.name for s in manifest.scenes for p in s.photos}
    for s in manifest.scenes:
        for seg in s.segments:
            for p in seg.photos:
                scene_of[p] = s.name
    hits, own = [], []
    per_scene: dict[str, list[float]] = {n: [] for n in names}
    for photo, scene in scene_of.items():
        space, vecs, uniform, params, scenes = assemble(
            cfg, manifest, durations, emb, photos_rgb, frozenset({photo}))
        raw_q = emb.get(f"{photo}|", lambda photo=photo: photos_rgb(photo))
        m = scene_mass(match(cfg, space, vecs, uniform, params, raw_q), scenes, names)
        hits.append(max(m, key=m.get) == scene)
        own.append(m[scene])
        per_scene[scene].append(m[scene])
    space, vecs, uniform, params, scenes = assemble(cfg, manifest, durations, emb, photos_rgb)
    ood_max = {}
    for name, rgb in ood.items():
        raw_q = emb.get(f"ood|{name}", lambda rgb=rgb: rgb)
        ood_max[name] = max(scene_mass(match(cfg, space, vecs, uniform, params, raw_q),
                                       scenes, names).values())
    alt: dict[str, list[float]] = {}
    for photo, scene in list(scene_of.items()):
        for kind, rgb in altered(photos_rgb(photo)).items():
            raw_q = emb.get(f"alt|{photo}|{kind}", lambda rgb=rgb: rgb)
            alt.setdefault(kind, []).append(scene_mass(
                match(cfg, space, vecs, uniform, params, raw_q), scenes, names)[scene])
    return {
        "top1": float(np.mean(hits)), "own": float(np.mean(own)),
        "own_by_scene": {n: float(np.mean(v)) for n, v in per_scene.items() if v},
        "ood_max": max(ood_max.values()), "ood": ood_max,
        "alt": float(np.mean([m for v in alt.values() for m in v])),
        "alt_by_kind": {k: float(np.mean(v)) for k, v in alt.items()},
        "keyframes": len(vecs), "tau": params.tau,
    }


def configs() -> list[Config]:
    raw = FeatureSpace(pooling="mean", power=1.0, l2=False)
    l2 = FeatureSpace(pooling="mean", power=1.0, l2=True)
    sq = FeatureSpace(pooling="mean", power=0.5, l2=True)
    gem = FeatureSpace(pooling="gem", power=0.5, l2=True)
    aug = tuple(VARIANTS)
    return [
        Config("baseline: raw vector, tau per frame, p per keyframe", raw, prior="count",
               tau="frame", confidence=False),
        Config("tau per corpus", raw, prior="count", confidence=False),
        Config("+ time prior (p ∝ span · kernel)", raw, confidence=False),
        Config("+ L2 normalize", l2, confidence=False),
        Config("+ square root (power 0.5)", sq, confidence=False),
        Config("  [+ centre on corpus mean]", sq, center=True, confidence=False),
        Config("  [GeM pooling of the 7x7 map]", gem, confidence=False),
        Config("  [+ flip variants]", sq, variants=("", "flip"), confidence=False),
        Config("  [+ flip, left, right, zoom variants]", sq, variants=aug, confidence=False),
        Config("+ confidence (relax unknown sights)", sq),
        Config("  [same + all variants]", sq, variants=aug),
        Config("  [same in float32, no int8]", sq, quantize=False),
        Config("chosen (builder defaults)", DEFAULT_FEATURES, center=CENTER,
               variants=DEFAULT_VARIANTS),
    ]


def ideas(model: Path) -> int:
    """The development-set rows of corpora/README.md's table for the matching space's
    parts: ``world`` built (as the builder does, into a temporary folder) once per
    configuration and matched against every development photo."""
    import tempfile
    from dataclasses import replace

    from appliance.bench import devset
    from appliance.corpus import Matcher, discriminant, known
    from appliance.corpus.builder import DEFAULT_FEATURES, build_corpus

    embedder = Embedder(model, num_threads=2)
    photos = devset.read_dev_set()
    base = DEFAULT_FEATURES
    # (label, features, scene-part shrinkage, unknown-sight ramp, one envelope per scene,
    # photo variants); None: the builder's default
    b6 = (0.2, 0.6)
    photo = ("",)
    five = ("", "flip", "left", "right", "zoom")
    rows = [
        ("one class envelope for the whole corpus, ramp 0.3–0.7, photos only (builder 5)",
         base, None, (0.3, 0.7), False, photo),
        ("one class envelope per scene, ramp 0.2–0.6, photos only (builder 6)", base, None,
         b6, True, photo),
        ("[builder 6 + flip and zoom variants, ramp 0.2–0.6]", base, None, b6, True, None),
        ("flip and zoom variants, ramp 0.4–0.8 (chosen, builder 7)", base, None, None, True,
         None),
        ("[chosen, ramp 0.35–0.75]", base, None, (0.35, 0.75), True, None),
        ("[chosen, ramp 0.45–0.85]", base, None, (0.45, 0.85), True, None),
        ("[photos only, ramp 0.4–0.8]", base, None, None, True, photo),
        ("[zoom variant only, ramp 0.4–0.8]", base, None, None, True, ("", "zoom")),
        ("[flip, left, right and zoom variants, ramp 0.4–0.8]", base, None, None, True, five),
        ("class part only (as before the kind and scene parts)",
         replace(base, kinds=0.0, scenes=0.0), None, None, True, None),
        ("+ kind part, weight 0.5", replace(base, scenes=0.0), None, None, True, None),
        ("+ scene part, weight 0.2, shrinkage 0.3", base, None, None, True, None),
        ("[scene part weight 0.1]", replace(base, scenes=0.1), None, None, True, None),
        ("[scene part weight 0.3]", replace(base, scenes=0.3), None, None, True, None),
        ("[scene part shrinkage 1.0]", base, 1.0, None, True, None),
        ("[scene part shrinkage 0.1]", base, 0.1, None, True, None),
        ("[kind part weight 0.3]", replace(base, kinds=0.3), None, None, True, None),
        ("[kind part weight 0.7]", replace(base, kinds=0.7), None, None, True, None),
    ]
    embed_cache: dict = {}
    audio_cache: dict = {}
    print("| configuration | right | mass | segment | none max | none ≤ 50 % | none TV | K |")
    print("|---|---|---|---|---|---|---|---|")
    default_shrinkage = discriminant.SHRINKAGE
    default_ramp = known.KNOWN_LO, known.KNOWN_HI
    for label, features, shrinkage, ramp, per_scene, variants in rows:
        discriminant.SHRINKAGE = default_shrinkage if shrinkage is None else shrinkage
        known.KNOWN_LO, known.KNOWN_HI = default_ramp if ramp is None else ramp
        known.PER_SCENE = per_scene
        try:
            with tempfile.TemporaryDirectory() as tmp:
                corpus = build_corpus(CORPORA_DIR / "world.toml", Path(tmp) / "world",
                                      embedder, features=features, embed_cache=embed_cache,
                                      audio_cache=audio_cache,
                                      variants=DEFAULT_VARIANTS if variants is None else variants)
                results = devset.evaluate(Matcher(corpus), embedder, photos)
        finally:
            discriminant.SHRINKAGE = default_shrinkage
            known.KNOWN_LO, known.KNOWN_HI = default_ramp
            known.PER_SCENE = True
        f = devset.figures(results)
        none = [max(r.scenes.values()) for r in results if r.photo.scene == "none"]
        print(f"| {label} | {f['dev_right_scene']:.1%} | {f['dev_mean_mass']:.1%} | "
              f"{f['dev_segment']:.1%} | {f['dev_none_max']:.1%} | "
              f"{sum(x <= 0.5 for x in none)} of {len(none)} | {f['dev_none_tv']:.3f} | "
              f"{corpus.num_keyframes} |", flush=True)
    return 0


def measure_dev(model: Path) -> int:
    from appliance.bench import devset
    from appliance.corpus import Matcher, ensure_demo_corpora, load_corpus

    embedder = Embedder(model, num_threads=2)
    corpus = load_corpus(ensure_demo_corpora(embedder, ["world"])[0])
    results = devset.evaluate(Matcher(corpus), embedder, devset.read_dev_set())
    devset.print_table(results)
    figs = devset.figures(results)
    print(f"\n{figs['dev_photos']} photos ({figs['dev_none_photos']} none), world corpus of "
          f"{corpus.num_keyframes} keyframes: right scene {figs['dev_right_scene']:.1%} "
          f"({figs['dev_right_scene_trusted']:.1%} if every frame were trusted), "
          f"mean mass on it {figs['dev_mean_mass']:.1%}, segment {figs['dev_segment']:.1%} "
          f"({figs['dev_segment_trusted']:.1%} trusted), "
          f"none max {figs['dev_none_max']:.1%} (mean distance from uniform "
          f"{figs['dev_none_tv']:.3f}); none indoors (rooms, objects, food, people): max "
          f"{figs['dev_none_max_indoors']:.1%}, {figs['dev_none_indoors_le_half']:.1%} at most "
          f"50 %; none outdoors (streets, skylines, landscapes): max "
          f"{figs['dev_none_max_outdoors']:.1%}, {figs['dev_none_outdoors_le_half']:.1%} at most "
          "50 %")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", type=Path, default=CORPORA_DIR / "world.toml")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--ood", type=Path, nargs="*", default=[], help="extra out-of-domain photos")
    ap.add_argument("--cache", type=Path, help="keep embeddings in this .npz between runs")
    ap.add_argument("--tau-sweep", action="store_true", help="also sweep TAU_FRACTION")
    ap.add_argument("--dev", action="store_true",
                    help="measure on the development set (corpora/dev) instead")
    ap.add_argument("--ideas", action="store_true",
                    help="with --dev: the table rows for the parts of the matching space")
    args = ap.parse_args(argv)
    if args.dev:
        return ideas(args.model) if args.ideas else measure_dev(args.model)

    t0 = time.perf_counter()
    manifest = read_scene_manifest(args.manifest)
    durations = {}
    import av  # durations only: the stream's sample count at the output rate

    for s in manifest.scenes:
        for a in s.audio:
            with av.open(str(a)) as c:
                st = c.streams.audio[0]
                n = sum(f.samples for f in c.decode(st))
                durations[a] = n / st.rate
    emb = Embeddings(Embedder(args.model, num_threads=2), args.cache)
    rgb_cache: dict[Path, np.ndarray] = {}

    def photos_rgb(p: Path) -> np.ndarray:
        if p not in rgb_cache:
            rgb_cache[p] = load_rgb(p)
        return rgb_cache[p]

    ood = synthetic_ood()
    for p in args.ood:
        ood[p.name] = load_rgb(p)
    # Embed everything once up front (all variants of all photos).
    for p in {p for s in manifest.scenes for p in s.photos + [x for g in s.segments
                                                           for x in g.photos]}:
        for v in VARIANTS:
            emb.get(f"{p}|{v}", lambda p=p, v=v: apply_variant(v, photos_rgb(p)))
    emb.save()
    print(f"{len(emb.store)} embeddings ready in {time.perf_counter() - t0:.0f} s "
          f"(output rate {SAMPLE_RATE} Hz timeline, {sum(durations.values()):.0f} s)\n")
    print(f"{'configuration':<52} {'top1':>6} {'own':>6} {'alt':>6} {'ood_max':>8} {'K':>5}")
    results = {}
    for cfg in configs():
        r = evaluate(cfg, manifest, durations, emb, photos_rgb, ood)
        results[cfg.label] = r
        print(f"{cfg.label:<52} {r['top1']:6.1%} {r['own']:6.1%} {r['alt']:6.1%} "
              f"{r['ood_max']:8.1%} {r['keyframes']:5d}", flush=True)
    emb.save()
    chosen = results["chosen (builder defaults)"]
    total = sum(durations.values())
    share = {s.name: sum(durations[a] for a in s.audio) / total for s in manifest.scenes}
    photos = [(p, s.name) for s in manifest.scenes
              for p in dict.fromkeys(s.photos + [x for g in s.segments for x in g.photos])]
    print(f"\nchance (uniform p): own {np.mean([share[n] for _, n in photos]):.1%}, "
          f"largest scene {max(share.values()):.1%} ({max(share, key=share.get)})")
    print("\nchosen, own-scene mass by scene (held out):",
          ", ".join(f"{k} {v:.0%}" for k, v in chosen["own_by_scene"].items()))
    print("chosen, largest scene mass per out-of-domain image:",
          ", ".join(f"{k} {v:.0%}" for k, v in chosen["ood"].items()))
    print("chosen, own-scene mass for altered copies of corpus photos:",
          ", ".join(f"{k} {v:.0%}" for k, v in chosen["alt_by_kind"].items()))
    # Where calibrate.py's constants come from: every photo's nearest other photo.
    cfg = Config("chosen", DEFAULT_FEATURES, center=CENTER, variants=DEFAULT_VARIANTS)
    _, vecs, _, params, _ = assemble(cfg, manifest, durations, emb, photos_rgb)
    plan, _ = plan_keyframes(manifest, durations, DEFAULT_VARIANTS)
    groups = np.array([hash(k.photo) % (1 << 31) for k in plan])
    nearest, _spread = cal.nearest_other(vecs, groups, np.array([k.variant == "" for k in plan]))
    print(f"\nnearest other photo (held-out distance): median {np.median(nearest):.3f}, "
          f"75th pct {np.quantile(nearest, 0.75):.3f} (D_NEAR {cal.D_NEAR}), "
          f"95th pct {np.quantile(nearest, 0.95):.3f} (D_FAR {cal.D_FAR}); "
          f"tau {params.tau:.4f} (DEFAULT_TAU {cal.DEFAULT_TAU})")
    if args.tau_sweep:
        print("\nTAU_FRACTION sweep (chosen features and variants):")
        for frac in (0.05, 0.1, 0.2, 0.3):
            cfg = Config(f"tau_fraction {frac}", DEFAULT_FEATURES, center=CENTER,
                         variants=DEFAULT_VARIANTS, tau_fraction=frac)
            r = evaluate(cfg, manifest, durations, emb, photos_rgb, ood)
            print(f"{cfg.label:<52} {r['top1']:6.1%} {r['own']:6.1%} {r['alt']:6.1%} "
                  f"{r['ood_max']:8.1%}", flush=True)
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
