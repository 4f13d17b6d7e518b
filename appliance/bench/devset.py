"""What a *new* view calls up: matching measured on the development set (corpora/dev).

The development set is photos that are no corpus' keyframes, each labelled
with a ``world`` scene, an animal segment where one fits, or ``none`` (a
kind of place the demo corpora have no sound for: rooms, objects, people,
streets). Each photo is matched against the built ``world`` corpus exactly
as a camera frame would be (``Matcher.probabilities``):

- ``dev_right_scene``: share of scene photos whose own scene gets the most mass;
- ``dev_mean_mass``: mean mass on the own scene over those photos;
- ``dev_segment``: share of animal photos whose own segment gets the most
  mass among the segments;
- ``dev_none_max``: the largest single-scene mass any ``none`` photo gets
  (the time-uniform p gives the longest scene's share);
- ``dev_none_tv``: the mean total-variation distance of the ``none`` photos'
  p from the time-uniform p (0: exactly "somewhere");
- ``dev_right_scene_trusted``: the right-scene rate if every frame were trusted
  (the kernel over distances alone, ``mapping.kernel``, without the unknown-sight
  factor): the ceiling the matching space itself sets, which no unknown-sight
  rule can raise (such a matcher gives every ``none`` photo a false "here");
  ``dev_segment_trusted``: the same for the segment rate;
- ``dev_none_max_indoors`` / ``dev_none_max_outdoors``: ``dev_none_max`` over the
  ``none`` photos of rooms, objects, food and people (the issue's living room, cup,
  chair, portrait, clock and brushes) and over those of streets, buildings,
  skylines and landscapes, which look far more like the corpus' own places; and
  ``dev_none_indoors_le_half`` / ``dev_none_outdoors_le_half``: the share of each
  group at or below 50 % on every scene.

``scripts/measure_matching.py`` prints the same figures with a line per photo.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance import CORPORA_DIR
from appliance.bench import say
from appliance.tomlcompat import tomllib

DEV_DIR = CORPORA_DIR / "dev"
DEV_MANIFEST = DEV_DIR / "dev.toml"


@dataclass(frozen=True)
class DevPhoto:
    """One labelled photo: ``scene`` is a world scene name or ``"none"``; ``setting``
    (``none`` photos only) is ``"indoors"`` (rooms, objects, food, people) or
    ``"outdoors"`` (streets, buildings, skylines, landscapes)."""

    path: Path
    scene: str
    segment: str
    setting: str = ""


@dataclass(frozen=True)
class DevResult:
    photo: DevPhoto
    scenes: dict[str, float]
    segments: dict[str, float]
    knownness: float
    tv_from_uniform: float
    #: The scene and the segment the kernel alone puts the most mass on (every frame
    #: trusted; "" for a corpus without segments).
    trusted_scene: str = ""
    trusted_segment: str = ""

    @property
    def top_scene(self) -> str:
        return _top(self.scenes)


def _top(masses: dict[str, float]) -> str:
    """The name with the most mass ("" when there are none)."""
    return max(masses, key=masses.__getitem__) if masses else ""


SETTINGS = ("indoors", "outdoors")


def read_dev_set(manifest: Path = DEV_MANIFEST) -> list[DevPhoto]:
    raw = tomllib.loads(manifest.read_text(encoding="utf-8"))
    photos = []
    for p in raw["photo"]:
        scene, setting = str(p["scene"]), str(p.get("setting", ""))
        if (scene == "none") != (setting in SETTINGS):
            want = f"setting {' or '.join(SETTINGS)}" if scene == "none" else "no setting"
            raise ValueError(f"{manifest}: {p['file']}: a {scene!r} photo needs {want}")
        photos.append(DevPhoto(manifest.parent / p["file"], scene, str(p.get("segment", "")),
                               setting))
    return photos


def evaluate(matcher, embedder, photos: list[DevPhoto]) -> list[DevResult]:
    """Match each photo's embedding against ``matcher``'s corpus."""
    from appliance.corpus.mapping import kernel
    from appliance.vision.images import load_rgb

    uniform = matcher.uniform()
    out = []
    for photo in photos:
        x = embedder.embed(load_rgb(photo.path))
        d = matcher.distances(x)
        p = matcher.probabilities_from_distances(d, matcher.known_confidence(x, d))
        s = kernel(d, uniform, matcher.params.tau)
        trusted, trusted_segments = matcher.scene_masses(s), matcher.segment_masses(s)
        out.append(DevResult(photo, matcher.scene_masses(p), matcher.segment_masses(p),
                             matcher.knownness(x, d), 0.5 * float(np.abs(p - uniform).sum()),
                             _top(trusted), _top(trusted_segments)))
    return out


def figures(results: list[DevResult]) -> dict[str, float]:
    known = [r for r in results if r.photo.scene != "none"]
    animals = [r for r in known if r.photo.segment]
    none = [r for r in results if r.photo.scene == "none"]
    # The largest single-scene mass of each none photo, with its setting.
    tops = [(r.photo.setting, max(r.scenes.values())) for r in none]
    figs = {
        "dev_right_scene": float(np.mean([r.top_scene == r.photo.scene for r in known])),
        "dev_right_scene_trusted": float(np.mean([r.trusted_scene == r.photo.scene
                                                  for r in known])),
        "dev_mean_mass": float(np.mean([r.scenes[r.photo.scene] for r in known])),
        "dev_segment": float(np.mean([_top(r.segments) == r.photo.segment for r in animals])),
        "dev_segment_trusted": float(np.mean([r.trusted_segment == r.photo.segment
                                              for r in animals])),
        "dev_none_max": float(max(top for _, top in tops)),
        "dev_none_tv": float(np.mean([r.tv_from_uniform for r in none])),
        "dev_photos": len(results),
        "dev_none_photos": len(none),
    }
    for setting in SETTINGS:  # read_dev_set makes every none photo name one
        own = [m for s, m in tops if s == setting]
        figs[f"dev_none_max_{setting}"] = float(max(own))
        figs[f"dev_none_{setting}_le_half"] = float(np.mean([m <= 0.5 for m in own]))
    return figs


def print_table(results: list[DevResult], out=sys.stdout) -> None:
    for r in results:
        label = r.photo.scene + (f"/{r.photo.segment}" if r.photo.segment else "")
        own = r.scenes.get(r.photo.scene, 0.0)
        seg = ""
        if r.segments and r.photo.segment:
            top_seg = _top(r.segments)
            seg = f"  segment {top_seg} {r.segments[top_seg]:.2f}"
        mark = "ok " if (r.photo.scene == "none" or r.top_scene == r.photo.scene) else "-- "
        print(f"{mark}{r.photo.path.name[:44]:44} {label:16} -> {r.top_scene:9} "
              f"{r.scenes[r.top_scene]:.2f} (own {own:.2f}, known {r.knownness:.2f}){seg}",
              file=out)


def run(quick: bool = False) -> dict[str, object]:
    from appliance import DEFAULT_MODEL
    from appliance.corpus import Matcher, ensure_demo_corpora, load_corpus
    from appliance.vision.embedder import Embedder

    if not DEV_MANIFEST.is_file():
        say(f"no development set at {DEV_MANIFEST}")
        return {}
    embedder = Embedder(DEFAULT_MODEL, num_threads=2)
    corpus = load_corpus(ensure_demo_corpora(embedder, ["world"])[0])
    results = evaluate(Matcher(corpus), embedder, read_dev_set())
    figs = figures(results)
    say(f"development set: {figs['dev_photos']} photos ({figs['dev_none_photos']} none): "
        f"right scene {figs['dev_right_scene']:.2f} ({figs['dev_right_scene_trusted']:.2f} "
        f"if every frame were trusted), mean mass {figs['dev_mean_mass']:.2f}, "
        f"segment {figs['dev_segment']:.2f} ({figs['dev_segment_trusted']:.2f} trusted), "
        f"none max {figs['dev_none_max']:.2f} (indoors "
        f"{figs['dev_none_max_indoors']:.2f}, outdoors {figs['dev_none_max_outdoors']:.2f})")
    return figs
