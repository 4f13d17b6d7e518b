"""Where each keyframe goes on a scene manifest's timeline.

The timeline is every scene's audio, scene after scene, each scene's files in
the listed order. A scene's stretch is cut into *regions*: maximal runs of
consecutive files with the same segment label ("" outside any segment).
Segment photos go on their segment's region; the scene's other photos go on
its unlabelled regions (shared among several such regions in proportion to
their length, at least one photo each). Within a region of length T holding
n photos with m variants each (the original plus augmentations), the n·m
keyframes are spread evenly, a photo's variants next to each other:
keyframe j of photo i starts at ``start + (i·m + j)·T/(n·m)``.

Keyframe k spans [t_k, t_{k+1}) (the last to the end of the timeline), so the
spans tile the timeline exactly and every keyframe's span lies inside its
scene (and segment).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from appliance.corpus.manifest import SceneManifest
from appliance.errors import CorpusError


@dataclass(frozen=True)
class PlannedKeyframe:
    """A keyframe to embed: ``photo`` (with augmentation ``variant``) placed at ``time`` s."""

    time: float
    scene: str
    segment: str
    photo: Path
    variant: str


@dataclass(frozen=True)
class Region:
    scene: str
    label: str
    start: float
    end: float


def _allocate(photos: list[Path], regions: list[Region]) -> list[list[Path]]:
    """Share photos among regions: ≥1 each (photos reused when too few), rest ∝ length."""
    if len(photos) <= len(regions):
        return [[photos[i % len(photos)]] for i in range(len(regions))]
    lengths = [r.end - r.start for r in regions]
    total = sum(lengths)
    extra = len(photos) - len(regions)
    want = [extra * n / total for n in lengths]
    counts = [1 + int(w) for w in want]
    rest = sorted(range(len(regions)), key=lambda i: want[i] - int(want[i]), reverse=True)
    for i in rest[: len(photos) - sum(counts)]:
        counts[i] += 1
    out, at = [], 0
    for c in counts:
        out.append(photos[at : at + c])
        at += c
    return out


def plan_keyframes(
    manifest: SceneManifest,
    durations: dict[Path, float],
    variants: tuple[str, ...] = ("",),
    exclude: frozenset[Path] = frozenset(),
) -> tuple[list[PlannedKeyframe], list[tuple[str, float, float]]]:
    """Plan every keyframe of a scene manifest.

    ``durations`` maps each audio file to its length in seconds (as decoded at
    the output rate). ``exclude`` leaves photos out (the held-out measurement);
    a segment left without photos then plays as part of its scene.
    Returns the keyframes in time order and the scene spans (name, start s, end s).
    """
    keyframes: list[PlannedKeyframe] = []
    spans: list[tuple[str, float, float]] = []
    t = 0.0
    for scene in manifest.scenes:
        seg_photos = {s.label: [p for p in s.photos if p not in exclude] for s in scene.segments}
        in_segment = {p for s in scene.segments for p in s.photos}
        general = [p for p in scene.photos if p not in in_segment and p not in exclude]
        regions: list[Region] = []
        scene_start = t
        for audio in scene.audio:
            label = scene.segment_of(audio)
            if label and not seg_photos[label]:
                label = ""
            length = durations[audio]
            if regions and regions[-1].label == label:
                regions[-1] = Region(scene.name, label, regions[-1].start, t + length)
            else:
                regions.append(Region(scene.name, label, t, t + length))
            t += length
        spans.append((scene.name, scene_start, t))
        by_label: dict[str, list[Region]] = {}
        for r in regions:
            by_label.setdefault(r.label, []).append(r)
        for label, regs in by_label.items():
            photos = seg_photos[label] if label else general
            if not photos:
                files = [a.name for a in scene.audio if not scene.segment_of(a)]
                raise CorpusError(
                    f"scene manifest {manifest.path}: scene {scene.name!r} has audio outside its "
                    f"segments ({', '.join(files)}) but no photos of its own to place there; add "
                    "photos to the scene's 'photos' list")
            for region, share in zip(regs, _allocate(photos, regs), strict=True):
                n = len(share) * len(variants)
                step = (region.end - region.start) / n
                for i, photo in enumerate(share):
                    for j, variant in enumerate(variants):
                        at = region.start + (i * len(variants) + j) * step
                        keyframes.append(PlannedKeyframe(at, scene.name, label, photo, variant))
    keyframes.sort(key=lambda k: k.time)
    return keyframes, spans
