"""Shared helpers for the corpus and matching tests (no tests here).

A small corpus from real recordings: four scenes (forest, rain, farm with a
``cow`` segment, harbour), 11 photos, about 110 s of audio, built once per
test session and shared by the corpus and matching tests.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np

from appliance import CORPORA_DIR

SMALL_MANIFEST = """\
name = "small"
spoken_name = "small test"
description = "Four scenes from the demo media, for the tests."
credits_file = "CREDITS.md"
credits_root = "media"

[[scene]]
name = "forest"
audio = ["media/forest/forest_birdsong_countryside.ogg"]
photos = ["media/forest/forest_path.jpg", "media/forest/forest_mossy_log.jpg",
          "media/forest/forest_birch_stand.jpg"]

[[scene]]
name = "rain"
audio = ["media/rain/rain_steady.ogg"]
photos = ["media/rain/rain_drops_on_leaves.jpg", "media/rain/rain_storm_clouds_sea.jpg"]

[[scene]]
name = "farm"
audio = ["media/farm/farmyard_1.ogg", "media/farm/cow/cow_1.ogg", "media/farm/cow/cow_2.ogg"]
photos = ["media/farm/farm_hay_bales.jpg", "media/farm/farm_tuscan_farmhouse.jpg"]

[[scene.segment]]
label = "cow"
audio = ["media/farm/cow/cow_1.ogg", "media/farm/cow/cow_2.ogg"]
photos = ["media/farm/cow/cow.jpg"]

[[scene]]
name = "harbour"
audio = ["media/harbour/harbour_dock_1.ogg"]
photos = ["media/harbour/harbour_boats_evening.jpg", "media/harbour/harbour_city_quay.jpg",
          "media/harbour/harbour_pier_walkway.jpg"]
"""

SCENE_PHOTOS = {
    "forest": ["forest/forest_path.jpg", "forest/forest_mossy_log.jpg",
               "forest/forest_birch_stand.jpg"],
    "rain": ["rain/rain_drops_on_leaves.jpg", "rain/rain_storm_clouds_sea.jpg"],
    "farm": ["farm/farm_hay_bales.jpg", "farm/farm_tuscan_farmhouse.jpg", "farm/cow/cow.jpg"],
    "harbour": ["harbour/harbour_boats_evening.jpg", "harbour/harbour_city_quay.jpg",
                "harbour/harbour_pier_walkway.jpg"],
}
AUDIO = ["forest/forest_birdsong_countryside.ogg", "rain/rain_steady.ogg", "farm/farmyard_1.ogg",
         "farm/cow/cow_1.ogg", "farm/cow/cow_2.ogg", "harbour/harbour_dock_1.ogg"]

_BUILT: dict[str, Path] = {}


def corpus_variant(src: Path, into: Path, edit: Callable[[dict], None] | None = None,
                   leave_out: tuple[str, ...] = ()) -> Path:
    """A copy of built corpus ``src`` at ``into``: its files linked, not copied (save
    ``leave_out``), and its manifest rewritten after ``edit(manifest)``, so that one
    field or one file can be changed without touching the cached corpus."""
    into.mkdir()
    for f in src.iterdir():
        if f.name != "corpus.json" and f.name not in leave_out:
            (into / f.name).symlink_to(f)
    manifest = json.loads((src / "corpus.json").read_text())
    if edit is not None:
        edit(manifest)
    (into / "corpus.json").write_text(json.dumps(manifest))
    return into


def make_small_source(root: Path, media: Path, manifest: str = SMALL_MANIFEST) -> Path:
    """Copy the small corpus' media and CREDITS.md under ``root``; write ``root/small.toml``."""
    for rel in AUDIO + [p for ps in SCENE_PHOTOS.values() for p in ps]:
        target = root / "media" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.copy2(media / rel, target)
    shutil.copy2(CORPORA_DIR / "CREDITS.md", root / "CREDITS.md")
    path = root / "small.toml"
    path.write_text(manifest, encoding="utf-8")
    return path


def small_corpus(tmp_path_factory, media: Path, embedder) -> Path:
    """The small corpus, built once per session; returns its directory."""
    if "small" not in _BUILT:
        from appliance.corpus import build_corpus

        root = tmp_path_factory.mktemp("small-source")
        source = make_small_source(root, media)
        out = tmp_path_factory.mktemp("small-corpus") / "small"
        build_corpus(source, out, embedder)
        _BUILT["small"] = out
    return _BUILT["small"]


def make_video(path: Path, photo: Path, audio: Path | None, seconds: float = 3.0,
               fps: int = 10, size: int = 160) -> Path:
    """A real short clip made with PyAV: ``photo`` panned slowly, with ``audio``'s sound."""
    import av

    from appliance.media import decode_audio
    from appliance.vision.images import load_rgb, square_resize

    rgb = square_resize(load_rgb(photo), size * 2)
    with av.open(str(path), "w") as out:
        v = out.add_stream("mpeg4", rate=fps)
        v.width = v.height = size
        v.pix_fmt = "yuv420p"
        a = None
        if audio is not None:
            a = out.add_stream("aac", rate=48000)
            a.layout = "mono"
        for i in range(int(seconds * fps)):
            off = i * (size // (seconds * fps))
            off = int(min(off, size))
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(rgb[off // 2 : off // 2 + size, off : off + size]),
                format="rgb24")
            for packet in v.encode(frame):
                out.mux(packet)
        for packet in v.encode():
            out.mux(packet)
        if a is not None:
            pcm = decode_audio(audio, 48000, 1)[: int(seconds * 48000), 0]
            pcm = np.pad(pcm, (0, max(0, int(seconds * 48000) - len(pcm))))
            step = 1024
            for i in range(0, len(pcm), step):
                chunk = np.ascontiguousarray(pcm[i : i + step][None, :], dtype=np.float32)
                frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                frame.sample_rate = 48000
                frame.pts = i
                frame.time_base = Fraction(1, 48000)
                for packet in a.encode(frame):
                    out.mux(packet)
            for packet in a.encode():
                out.mux(packet)
    return path
