"""Scene manifests and keyframe placement (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_corpus_support import SMALL_MANIFEST, make_small_source

from appliance import CORPORA_DIR
from appliance.corpus.library import demo_manifests
from appliance.corpus.manifest import read_scene_manifest
from appliance.corpus.timeline import plan_keyframes
from appliance.errors import CorpusError


@pytest.fixture
def source(tmp_path: Path, media: Path) -> Path:
    return make_small_source(tmp_path, media)


def _rewrite(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


def test_small_manifest_parses(source: Path) -> None:
    m = read_scene_manifest(source)
    assert m.name == "small" and m.spoken_name == "small test"
    assert [s.name for s in m.scenes] == ["forest", "rain", "farm", "harbour"]
    farm = m.scenes[2]
    assert [s.label for s in farm.segments] == ["cow"]
    assert all(p.is_absolute() and p.is_relative_to(source.parent) for p in m.files())
    # Credits are the CREDITS.md rows of exactly the files used.
    assert "farm/cow/cow.jpg" in m.credits and "CC" in m.credits
    assert "night/" not in m.credits


def test_demo_manifests_are_valid_and_ordered(media: Path) -> None:
    names = list(demo_manifests())
    assert names[0] == "world"
    assert set(names) >= {"world", "woods_and_water", "night", "farm", "harbour"}
    world = read_scene_manifest(CORPORA_DIR / "world.toml")
    import tomllib

    reference = tomllib.loads((media / "scenes.toml").read_text())["scene"]
    assert [s.name for s in world.scenes] == [s["name"] for s in reference]
    for ours, ref in zip(world.scenes, reference, strict=True):
        assert [p.relative_to(media).as_posix() for p in ours.audio] == ref["audio"]
        assert [s.label for s in ours.segments] == [s["label"] for s in ref.get("segment", [])]
    # Every theme's scenes are world's scenes, unchanged.
    by_name = {s.name: s for s in world.scenes}
    for name, path in demo_manifests().items():
        for scene in read_scene_manifest(path).scenes:
            assert scene.audio == by_name[scene.name].audio, (name, scene.name)
            assert scene.photos == by_name[scene.name].photos, (name, scene.name)


def test_scenes_toml_itself_is_a_valid_manifest(media: Path) -> None:
    m = read_scene_manifest(media / "scenes.toml")
    assert m.name == "scenes" and len(m.scenes) == 7


@pytest.mark.parametrize("old,new,message", [
    ('"media/rain/rain_steady.ogg"', '"../rain_steady.ogg"', "leaves the manifest's folder"),
    ('"media/rain/rain_steady.ogg"', '"/etc/passwd"', "absolute"),
    ('"media/rain/rain_steady.ogg"', '"media/rain/missing.ogg"', "not found"),
    ('name = "rain"', 'name = "rain"\naudio_secs = 3', "unknown key"),
    ('name = "rain"', 'name = "forest"', "used twice"),
    ('name = "rain"', 'name = "rain day"', "no spaces"),
    ('audio = ["media/farm/cow/cow_1.ogg", "media/farm/cow/cow_2.ogg"]',
     'audio = ["media/farm/farmyard_1.ogg", "media/farm/cow/cow_2.ogg"]', "contiguous"),
    ('audio = ["media/farm/cow/cow_1.ogg", "media/farm/cow/cow_2.ogg"]',
     'audio = ["media/rain/rain_steady.ogg"]', "not in the scene's audio list"),
    ('photos = ["media/farm/cow/cow.jpg"]', 'photos = ["media/farm/cow/cow_1.ogg"]',
     "not a photo"),
    ('credits_root = "media"', 'credits_root = ".."', "leaves"),
])
def test_bad_manifests_are_refused(source: Path, old: str, new: str, message: str) -> None:
    _rewrite(source, old, new)
    with pytest.raises(CorpusError, match=message) as err:
        read_scene_manifest(source)
    assert str(source.name) in str(err.value)


def test_symlink_out_of_the_folder_is_refused(tmp_path: Path, media: Path) -> None:
    source = make_small_source(tmp_path / "src", media)
    outside = tmp_path / "outside.ogg"
    outside.write_bytes((media / "rain/rain_steady.ogg").read_bytes())
    (source.parent / "media/link.ogg").symlink_to(outside)
    _rewrite(source, '"media/rain/rain_steady.ogg"', '"media/link.ogg"')
    with pytest.raises(CorpusError, match="leaves the manifest's folder"):
        read_scene_manifest(source)


def test_missing_credits_row_is_refused(source: Path) -> None:
    credits = source.parent / "CREDITS.md"
    lines = [ln for ln in credits.read_text().splitlines() if "cow/cow.jpg" not in ln]
    credits.write_text("\n".join(lines))
    with pytest.raises(CorpusError, match=r"no row for farm/cow/cow\.jpg"):
        read_scene_manifest(source)


def test_bad_toml_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[scene]\nname=")
    with pytest.raises(CorpusError, match="not valid TOML"):
        read_scene_manifest(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text('name = "x"\n')
    with pytest.raises(CorpusError, match="no scenes"):
        read_scene_manifest(empty)


def test_keyframe_plan_tiles_each_scene(source: Path) -> None:
    m = read_scene_manifest(source)
    durations = {a: 10.0 + i for i, a in enumerate(a for s in m.scenes for a in s.audio)}
    for variants in (("",), ("", "flip", "zoom")):
        plan, spans = plan_keyframes(m, durations, variants)
        times = [k.time for k in plan]
        assert times[0] == 0.0 and times == sorted(times) and len(set(times)) == len(times)
        total = sum(durations.values())
        assert spans[-1][2] == pytest.approx(total)
        ends = [*times[1:], total]
        for k, end in zip(plan, ends, strict=True):
            _name, a, b = next(s for s in spans if s[0] == k.scene)
            assert a - 1e-9 <= k.time < end <= b + 1e-9, k  # span inside its scene
        cows = [k for k in plan if k.segment == "cow"]
        assert {k.photo.name for k in cows} == {"cow.jpg"}
        assert len(cows) == len(variants)
        farm = next(s for s in m.scenes if s.name == "farm")
        cow_start = spans[2][1] + durations[farm.audio[0]]
        assert all(k.time >= cow_start - 1e-9 for k in cows)
        assert len(plan) == 11 * len(variants)


def test_held_out_segment_photo_plays_as_its_scene(source: Path) -> None:
    m = read_scene_manifest(source)
    durations = {a: 5.0 for s in m.scenes for a in s.audio}
    cow = next(p for p in m.files() if p.name == "cow.jpg")
    plan, _ = plan_keyframes(m, durations, exclude=frozenset({cow}))
    assert all(k.segment == "" for k in plan) and len(plan) == 10


def test_scene_without_own_photos_for_its_ambience_is_refused(tmp_path: Path,
                                                             media: Path) -> None:
    text = SMALL_MANIFEST.replace(
        'photos = ["media/farm/farm_hay_bales.jpg", "media/farm/farm_tuscan_farmhouse.jpg"]',
        "photos = []")
    source = make_small_source(tmp_path, media, text)
    m = read_scene_manifest(source)
    with pytest.raises(CorpusError, match="no photos of its own"):
        plan_keyframes(m, {a: 5.0 for s in m.scenes for a in s.audio})


def test_progress_line() -> None:
    import io

    from appliance.corpus.progress import ProgressLine

    log = io.StringIO()
    line = ProgressLine("corpus x: ", stream=log, every_s=3600)
    for i in range(11):
        line("embedding photos", i, 10)
    out = log.getvalue().splitlines()
    assert out[0].startswith("corpus x: embedding photos [") and out[-1].endswith("10/10")
    assert len(out) <= 3  # not a line per step in a log file

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    line = ProgressLine(stream=tty)
    line("decoding audio", 1, 4)
    line.close()
    assert tty.getvalue().startswith("\rdecoding audio [######") and tty.getvalue().endswith("\n")
