"""``build_corpus``: a video (or a folder of videos) or a scene manifest → a corpus directory.

Steps: decode every audio source once, resampled to 48 kHz (stereo when any
source is stereo); place keyframes (every ``keyframe_interval_s`` of video, or
a scene manifest's photos and their variants over each scene's stretch, see
timeline.py); embed each keyframe with the appliance's model; map the
embeddings to the matching space (features.py), store them as int8 with a
scale per row; calibrate the probability mapping (calibrate.py); measure the
loudness; speak the name. All of it is written into a temporary directory
that replaces ``out_dir`` only when complete (fileformat.building_into).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from appliance.corpus import background, discriminant, known
from appliance.corpus import fileformat as ff
from appliance.corpus.announce import render_announcement
from appliance.corpus.augment import apply_variant
from appliance.corpus.calibrate import VIDEO_EXCLUDE_S, calibrate
from appliance.corpus.classpart import CLASS_WEIGHT, KIND_WEIGHT, keyframe_classes, keyframe_kinds
from appliance.corpus.features import FeatureSpace
from appliance.corpus.loudness import combine, file_loudness, keyframe_loudness
from appliance.corpus.manifest import SceneManifest, read_scene_manifest
from appliance.corpus.model_id import cached_file_sha256, model_sha256
from appliance.corpus.progress import Progress, no_progress
from appliance.corpus.quantize import quantize_rows
from appliance.corpus.sources import (
    VIDEO_SUFFIXES,
    decode_file,
    fade_ends,
    probe_channels,
    to_int16,
    video_frames_at,
)
from appliance.corpus.timeline import plan_keyframes
from appliance.errors import CorpusError
from appliance.vision.classes import class_head
from appliance.vision.images import load_rgb

log = logging.getLogger(__name__)

SAMPLE_RATE = ff.SAMPLE_RATE
#: Video keyframe intervals accepted, s: a video's frame period (25 fps) to an hour.
INTERVAL_RANGE_S = (0.04, 3600.0)
#: Most keyframes a build makes (memory: 2048 float32 each while building; a day at 1 s).
MAX_KEYFRAMES = 100_000
#: Bump when the same sources and model would now build a different corpus
#: (features, variants, placement, calibration): cached demo corpora then rebuild.
BUILDER_VERSION = 9
#: The matching space every new corpus uses (the measured choice, corpora/README.md).
DEFAULT_FEATURES = FeatureSpace(pooling="mean", power=0.5, l2=True, classes=CLASS_WEIGHT,
                                kinds=KIND_WEIGHT, scenes=discriminant.SCENE_WEIGHT,
                                scene_compression=discriminant.COMPRESSION)
#: Centring on the corpus mean: measured, not worth it (corpora/README.md); kept as an option.
CENTER = False
#: Photo variants embedded as extra keyframes of a photo corpus (augment.py; videos keep
#: one keyframe per interval): each photo, its mirror image and a closer look. Measured on
#: the development set with the stricter unknown-sight ramp they allow (known.py), better
#: on every figure than the photos alone, for three times the build time (builder 7 on;
#: corpora/README.md, "Seventh round").
DEFAULT_VARIANTS: tuple[str, ...] = ("", "flip", "zoom")

#: In-memory cache of pooled photo embeddings shared by several builds
#: (ensure_demo_corpora): key (model sha256, photo sha256, variant, pooling).
EmbedCache = dict[tuple[str, str, str, str], np.ndarray]
#: Likewise for decoded audio: file sha256 → (int16 PCM at 48 kHz with the file's own
#: 1 or 2 channels, ends faded; its loudness in LUFS).
AudioCache = dict[str, tuple[np.ndarray, float]]


@dataclass
class _Staged:
    """Everything a build gathers before writing."""

    name: str
    spoken_name: str
    description: str
    credits: str
    channels: int
    pcm: list[np.ndarray] = field(default_factory=list)
    loudness: list[tuple[float, int]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    pooled: list[np.ndarray] = field(default_factory=list)
    scene: list[str] = field(default_factory=list)
    segment: list[str] = field(default_factory=list)
    origin: list[str] = field(default_factory=list)
    variant: list[str] = field(default_factory=list)
    group: list[int] = field(default_factory=list)
    scene_spans: list[tuple[str, float, float]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    audio_cache: AudioCache | None = None


def _embed_pooled(embedder, rgb: np.ndarray, features: FeatureSpace) -> np.ndarray:
    if features.needs_feature_map:
        emb = embedder.embed_full(rgb)
        return features.pool(emb.vector, emb.feature_map)
    return features.pool(embedder.embed(rgb), None)


def _add_audio(staged: _Staged, path: Path) -> float:
    """Decode one file onto the end of the timeline; return its length, s.

    A mono file in a stereo corpus is decoded as mono and copied to both
    channels at the same level (FFmpeg's own mono→stereo upmix is 3 dB down).
    """
    key = cached_file_sha256(path) if staged.audio_cache is not None else ""
    cached = staged.audio_cache.get(key) if staged.audio_cache is not None else None
    if cached is None:
        own = min(probe_channels(path), 2)
        audio = fade_ends(decode_file(path, SAMPLE_RATE, own), SAMPLE_RATE)
        cached = (to_int16(audio), file_loudness(audio, SAMPLE_RATE))
        if staged.audio_cache is not None:
            staged.audio_cache[key] = cached
    pcm, lufs = cached
    if pcm.shape[1] < staged.channels:
        pcm = np.repeat(pcm, staged.channels, axis=1)
    staged.loudness.append((lufs, pcm.shape[0]))
    staged.pcm.append(pcm)
    return pcm.shape[0] / SAMPLE_RATE


def _stage_manifest(source: Path, embedder, features: FeatureSpace, variants: tuple[str, ...],
                    progress: Progress, cache: EmbedCache | None, model_sha: str,
                    audio_cache: AudioCache | None) -> _Staged:
    manifest = read_scene_manifest(source)
    audio_files = [a for s in manifest.scenes for a in s.audio]
    channels = max(probe_channels(a) for a in dict.fromkeys(audio_files))
    staged = _Staged(manifest.name, manifest.spoken_name, manifest.description, manifest.credits,
                     min(channels, 2), files=manifest_files(manifest), audio_cache=audio_cache)
    durations: dict[Path, float] = {}
    for i, a in enumerate(audio_files):
        progress("decoding audio", i, len(audio_files))
        durations[a] = _add_audio(staged, a)
    progress("decoding audio", len(audio_files), len(audio_files))
    for scene in manifest.scenes:
        got = sum(durations[a] for a in scene.audio)
        if scene.audio_seconds is not None and abs(got - scene.audio_seconds) > 1.0:
            log.warning("%s: scene %r has %.1f s of audio, the manifest says %.1f s",
                        source, scene.name, got, scene.audio_seconds)
    plan, staged.scene_spans = plan_keyframes(manifest, durations, variants)
    photo_ids = {p: i for i, p in enumerate(dict.fromkeys(k.photo for k in plan))}
    rgb_of: dict[Path, np.ndarray] = {}
    digests: dict[Path, str] = {}
    for i, k in enumerate(plan):
        progress("embedding photos", i, len(plan))
        digest = digests.setdefault(k.photo, cached_file_sha256(k.photo))
        key = (model_sha, digest, k.variant, features.pooling)
        vec = cache.get(key) if cache is not None else None
        if vec is None:
            if k.photo not in rgb_of:
                rgb_of.clear()  # keep one decoded photo in memory
                rgb_of[k.photo] = load_rgb(k.photo)
            vec = _embed_pooled(embedder, apply_variant(k.variant, rgb_of[k.photo]), features)
            if cache is not None:
                cache[key] = vec
        staged.times.append(k.time)
        staged.pooled.append(vec)
        staged.scene.append(k.scene)
        staged.segment.append(k.segment)
        staged.origin.append(k.photo.relative_to(manifest.root).as_posix())
        staged.variant.append(k.variant)
        staged.group.append(photo_ids[k.photo])
    progress("embedding photos", len(plan), len(plan))
    return staged


def _video_files(source: Path) -> list[Path]:
    if source.is_dir():
        files = sorted(p for p in source.iterdir()
                       if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        if not files:
            raise CorpusError(f"{source} holds no videos ({', '.join(VIDEO_SUFFIXES)}); give a "
                              "video, a folder of videos or a scene manifest (.toml)")
        return files
    return [source]


def _stage_videos(source: Path, embedder, features: FeatureSpace, interval: float,
                  progress: Progress, name: str | None) -> _Staged:
    files = _video_files(source)
    channels = max(probe_channels(f) for f in files)
    label = name or (source.name if source.is_dir() else source.stem)
    staged = _Staged(label, label.replace("_", " ").replace("-", " "),
                     f"Built from {source.name}", "", min(channels, 2), files=files)
    stems = [f.stem for f in files]
    durations = []
    for i, f in enumerate(files):
        progress("decoding audio", i, len(files))
        durations.append(_add_audio(staged, f))
    progress("decoding audio", len(files), len(files))
    total = sum(math.ceil(d / interval) for d in durations)
    if total > MAX_KEYFRAMES:
        raise CorpusError(f"{source}: a keyframe every {interval:g} s makes {total} keyframes, "
                          f"more than {MAX_KEYFRAMES}; choose a longer --interval")
    grids = [np.arange(0.0, d, interval) for d in durations]
    total = sum(len(g) for g in grids)
    done, offset = 0, 0.0
    for f, stem, dur, grid in zip(files, stems, durations, grids, strict=True):
        scene = stem if stems.count(stem) == 1 else f.name
        staged.scene_spans.append((scene, offset, offset + dur))
        for i, rgb in video_frames_at(f, grid):
            progress("embedding frames", done, total)
            done += 1
            staged.times.append(offset + float(grid[i]))
            staged.pooled.append(_embed_pooled(embedder, rgb, features))
            staged.scene.append(scene)
            staged.segment.append("")
            staged.origin.append(f.name)
            staged.variant.append("")
            staged.group.append(int((offset + float(grid[i])) // VIDEO_EXCLUDE_S))
        if not staged.times or staged.times[-1] < offset:
            raise CorpusError(f"{f}: no video frame could be read at the start of the clip")
        offset += dur
    progress("embedding frames", total, total)
    return staged


def _class_parts(idx: np.ndarray, sq: np.ndarray,
                 features: FeatureSpace) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The stored parts of rows with classes ``idx`` and square roots ``sq``
    (keyframe_classes), as calibrate and the background take them: the class part, then
    the kind part, each (index, √mass × 255, weight), those the space weighs above 0."""
    parts = []
    if features.classes > 0:
        parts.append((idx, sq, features.classes))
    if features.kinds > 0:
        parts.append((*keyframe_kinds(idx, sq), features.kinds))
    return parts


def _background_rows(embedder, features: FeatureSpace, head, deq: np.ndarray,
                     parts: list[tuple[np.ndarray, np.ndarray, float]]
                     ) -> dict[str, np.ndarray] | None:
    """The background's arrays for this corpus (background.py): its rows in the corpus'
    matching space (``deq``: the keyframes' visual rows; ``parts``: their class part, then
    kind part, as calibrate takes them), without those as near to a keyframe as a new view
    of it would be; None when there is no background (or the space pools the map)."""
    pooled = background.load_background(embedder) if not features.needs_feature_map else None
    if pooled is None:
        return None
    q, scales = quantize_rows(features.finish(pooled))
    idx, sq = keyframe_classes(head, pooled)
    near = [(b_idx, b_sq, k_idx, k_sq, weight) for (b_idx, b_sq, _), (k_idx, k_sq, weight)
            in zip(_class_parts(idx, sq, features), parts, strict=True)]
    rows = q.astype(np.float32) * scales[:, None]
    keep = background.nearest_keyframe(rows, deq, near) >= background.PRUNE_NEARER
    if not keep.any():
        log.warning("every background row is as near to this corpus as its own views; "
                    "it is built without the background")
        return None
    out = {ff.BG_EMBEDDINGS: q[keep], ff.BG_SCALES: scales[keep]}
    if features.classes > 0:
        out[ff.BG_CLASS_INDEX], out[ff.BG_CLASS_SQRT] = idx[keep], sq[keep]
    return out


def manifest_files(manifest: SceneManifest) -> list[Path]:
    """Every file a scene manifest's corpus depends on: itself, its credits, its media."""
    extra = [manifest.credits_file] if manifest.credits_file is not None else []
    return [manifest.path, *extra, *manifest.files()]


def source_fingerprint(files: list[Path], content: bool = True) -> str:
    """sha256 over the builder version and each source file (its bytes, or size+mtime)."""
    digest = hashlib.sha256(f"builder {BUILDER_VERSION}\n".encode())
    # Every corpus carries the background (background.py): a new photo there rebuilds it.
    for f in [*files, *background.photo_files()]:
        if content:
            part = cached_file_sha256(f)
        else:
            st = f.stat()
            part = f"{st.st_size}:{st.st_mtime_ns}"
        digest.update(f"{f.name}\n{part}\n".encode())
    return digest.hexdigest()


def build_corpus(
    source: Path | str,
    out_dir: Path | str,
    embedder,
    keyframe_interval_s: float = 1.0,
    progress: Progress | None = None,
    *,
    name: str | None = None,
    variants: tuple[str, ...] = DEFAULT_VARIANTS,
    features: FeatureSpace = DEFAULT_FEATURES,
    center: bool = CENTER,
    embed_cache: EmbedCache | None = None,
    audio_cache: AudioCache | None = None,
) -> ff.Corpus:
    """Build a corpus from ``source`` into ``out_dir`` and return it loaded.

    ``source``: a scene manifest (``.toml``), a video with sound, or a folder
    of videos (concatenated in name order; each file's stem is its scene).
    ``keyframe_interval_s``: seconds between video keyframes (manifests place
    their photos instead). ``progress(stage, done, total)`` is told how far the
    build got. ``name`` overrides a video corpus' name (manifests name
    themselves). ``embed_cache`` / ``audio_cache`` (dicts, filled as it goes)
    let several builds share photo embeddings and decoded audio. Raises
    CorpusError / MediaError / ImageError with a message naming the file;
    ``out_dir`` is never left half-written.
    """
    source = Path(source)
    out_dir = Path(out_dir)
    progress = progress or no_progress
    if not source.exists():
        raise CorpusError(f"build source {source} not found")
    lo, hi = INTERVAL_RANGE_S
    if not lo <= keyframe_interval_s <= hi:
        raise CorpusError(f"keyframe interval {keyframe_interval_s:g} s is outside "
                          f"{lo:g}–{hi:g} s (at most one keyframe per video frame)")
    sha = model_sha256(embedder.model_path)
    t0 = time.perf_counter()
    with ff.building_into(out_dir) as tmp:
        if source.is_file() and source.suffix.lower() == ".toml":
            staged = _stage_manifest(source, embedder, features, variants, progress,
                                     embed_cache, sha, audio_cache)
            kind, fingerprint = "scene-manifest", source_fingerprint(staged.files)
        else:
            staged = _stage_videos(source, embedder, features, keyframe_interval_s, progress,
                                   name)
            kind, fingerprint = "video", source_fingerprint(staged.files, content=False)
        _write(tmp, staged, source, kind, fingerprint, embedder, sha, features, center,
               keyframe_interval_s, variants if kind == "scene-manifest" else ("",), t0)
    return ff.load_corpus(out_dir, sha)


def _write(tmp: Path, s: _Staged, source: Path, kind: str, fingerprint: str, embedder,
           sha: str, features: FeatureSpace, center: bool, interval: float,
           variants: tuple[str, ...], t0: float) -> None:
    pooled = np.stack(s.pooled).astype(np.float32)
    if center:
        features = features.fit_center(pooled)
    vectors = features.finish(pooled)
    q, scales = quantize_rows(vectors)
    deq = q.astype(np.float32) * scales[:, None]
    originals = np.array([v == "" for v in s.variant])
    # The class support and the class part read the model's raw vectors (mean pooling, the
    # default space; GeM-pooled corpora get those of their pooled vectors, a stand-in).
    head = class_head()
    class_idx, class_sqrt = keyframe_classes(head, pooled)
    parts = _class_parts(class_idx, class_sqrt, features)
    audio = np.concatenate(s.pcm) if len(s.pcm) > 1 else s.pcm[0]
    frames = int(audio.shape[0])
    times = np.asarray(s.times, dtype=np.float64)
    if times[0] != 0.0 or np.any(np.diff(times) <= 0):
        raise CorpusError(f"{source}: keyframe times are not strictly increasing from 0 "
                          "(a zero-length audio file?)")
    scene_names = list(dict.fromkeys(n for n, _, _ in s.scene_spans))
    segment_labels = list(dict.fromkeys(x for x in s.segment if x))
    origins = list(dict.fromkeys(s.origin))
    variant_names = list(dict.fromkeys(s.variant))
    labels = np.array([
        [scene_names.index(a), segment_labels.index(b) if b else -1, origins.index(c),
         variant_names.index(v)]
        for a, b, c, v in zip(s.scene, s.segment, s.origin, s.variant, strict=True)
    ], dtype=np.int32).reshape(-1, 4)
    support = known.class_support(head, pooled, labels[:, 0] if known.PER_SCENE else None)
    arrays = {ff.AUDIO: np.ascontiguousarray(audio), ff.EMBEDDINGS: q, ff.SCALES: scales,
              ff.LABELS: labels, ff.CLASSES: support}
    if features.classes > 0:
        arrays[ff.CLASS_INDEX] = class_idx
        arrays[ff.CLASS_SQRT] = class_sqrt
    if features.center is not None:
        arrays[ff.MEAN] = features.center
    # The background's rows (background.py); the GeM-pooled spaces have no stored vectors.
    bg = _background_rows(embedder, features, head, deq, parts)
    if bg is not None:
        arrays.update(bg)
    scene_part = None
    if features.scenes > 0:
        scene_part = discriminant.fit(deq, labels[:, 0])
    if scene_part is None:
        features = features.without_scenes()  # one scene: nothing to tell apart
    else:
        axes, centres = scene_part
        arrays[ff.SCENE_AXES], arrays[ff.SCENE_CENTRES] = axes, centres
        if bg is not None:  # the background's mean place on the corpus' own axes
            rows = bg[ff.BG_EMBEDDINGS].astype(np.float32) * bg[ff.BG_SCALES][:, None]
            arrays[ff.BG_CENTRE] = (rows @ axes).mean(axis=0).astype(np.float32)
    # Calibrated without the scene part: it depends on the corpus (discriminant.py).
    ramp = ((known.KNOWN_LO_BACKGROUND, known.KNOWN_HI_BACKGROUND) if bg is not None
            else (known.KNOWN_LO, known.KNOWN_HI))
    matching = calibrate(deq, np.asarray(s.group), originals, classes=parts, known_ramp=ramp)
    sums = ff.save_arrays(tmp, arrays)
    announcement = render_announcement(s.spoken_name, tmp)
    manifest = {
        "format": ff.FORMAT,
        "name": s.name,
        "spoken_name": s.spoken_name,
        "description": s.description,
        "sample_rate": SAMPLE_RATE,
        "channels": s.channels,
        "frames": frames,
        "duration_s": frames / SAMPLE_RATE,
        "loudness_lufs": round(combine(s.loudness), 2),
        "keyframe_loudness_lufs": [
            round(float(x), 2) for x in keyframe_loudness(audio, times, SAMPLE_RATE)
        ],
        "credits": s.credits,
        "announcement": announcement,
        "model": {"sha256": sha, "output_size": int(q.shape[1]),
                  "file": Path(embedder.model_path).name},
        "features": features.describe(),
        "matching": matching.describe(),
        "embeddings": {"dtype": "int8", "scale": "float32 per row", "keyframes": len(times)},
        "crc32": sums,
        "scene_names": scene_names,
        "segment_labels": segment_labels,
        "origins": origins,
        "variants": variant_names,
        "scene_spans": [[n, a, b] for n, a, b in s.scene_spans],
        "background": None if bg is None else {
            "rows": len(bg[ff.BG_EMBEDDINGS]), "share": background.SHARE},
        "source": {"kind": kind, "path": str(source.resolve()), "fingerprint": fingerprint},
        "build": {
            "builder": BUILDER_VERSION,
            "keyframe_interval_s": interval if kind == "video" else None,
            "photo_variants": list(variants),
            "built_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - t0, 2),
        },
        "keyframe_times": [float(t) for t in times],
    }
    ff.write_manifest(tmp, manifest)

