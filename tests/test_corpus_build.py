"""Building corpora from real recordings and videos; loading and refusing broken ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_corpus_support import make_small_source, make_video, small_corpus

from appliance.bench import memory_bytes
from appliance.corpus import build_corpus, load_corpus, model_sha256
from appliance.corpus.fileformat import EMBEDDINGS, LABELS, MANIFEST
from appliance.errors import CorpusError, MediaError


@pytest.fixture(scope="module")
def small(tmp_path_factory, media, embedder) -> Path:
    return small_corpus(tmp_path_factory, media, embedder)


def media_dir(corpus) -> Path:
    return Path(corpus.source["path"]).parent / "media"


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".building-" in p.name or ".old-" in p.name)


def test_small_corpus_fields(small: Path, embedder) -> None:
    c = load_corpus(small, model_sha256(embedder.model_path))
    assert c.name == "small" and c.spoken_name == "small test"
    assert c.sample_rate == 48000 and c.channels == 2  # rain_steady is stereo
    assert c.audio.dtype == np.int16 and c.audio.shape == (c.frames, 2)
    assert isinstance(c.audio, np.memmap)
    assert c.duration_s == pytest.approx(c.frames / 48000)
    assert 95 < c.duration_s < 115  # 40 + 15.8 + 21.2 + 4.5 + 3.9 + 20.1 s
    assert c.keyframe_times.dtype == np.float64 and c.keyframe_times[0] == 0.0
    assert np.all(np.diff(c.keyframe_times) > 0)
    # 11 photos, each a keyframe as it is, mirrored and closer up, next to each other.
    assert len(c.scenes) == len(c.segments) == c.num_keyframes == 11 * 3
    assert c.variants == ["", "flip", "zoom"] * 11
    assert all(len(set(c.origins[k:k + 3])) == 1 for k in range(0, 33, 3))
    assert c.scene_names == ["forest", "rain", "farm", "harbour"]
    assert c.segments.count("cow") == 3 and c.segment_labels == ["cow"]
    assert [s[0] for s in c.scene_spans()] == c.scene_names
    assert c.scene_spans()[-1][2] == pytest.approx(c.duration_s)
    for t, end, scene in zip(c.keyframe_times, c.keyframe_spans()[:, 1], c.scenes, strict=True):
        _name, a, b = next(s for s in c.scene_spans() if s[0] == scene)
        assert a - 1e-9 <= t < end <= b + 1e-6
    assert -40 < c.loudness_lufs < -5
    # Each keyframe's loudness is that of its own stretch of audio, widened evenly to the
    # shortest window measured (3 s; a photo's three keyframes share its span, so some are
    # shorter), measured here on the float copy the old way.
    from appliance.synth import measure_loudness

    kl = c.keyframe_loudness_lufs
    assert kl is not None and kl.shape == (33,) and not kl.flags.writeable
    for figure, (a, b) in zip(kl, c.keyframe_spans(), strict=True):
        grow = max(0.0, 3.0 - (b - a))
        a, b = max(0.0, a - grow / 2), min(c.duration_s, b + grow / 2)
        own = measure_loudness(c.audio_float32(round(a * 48000), round(b * 48000)), 48000)
        assert figure == pytest.approx(own, abs=0.05)
    assert kl.max() - kl.min() > 6.0  # parts of one corpus differ: worth balancing
    assert c.embeddings.dtype == np.int8 and c.embeddings.shape == (33, 2048)
    assert "farm/cow/cow.jpg" in c.credits
    assert c.model_sha256 == model_sha256(embedder.model_path)
    f = c.audio_float32()
    assert f.dtype == np.float32 and f.shape == (c.frames, 2) and np.abs(f).max() <= 1.0
    # Mono sources are duplicated onto both channels, at their own level.
    forest = c.audio_float32(48000, 96000)
    assert np.array_equal(forest[:, 0], forest[:, 1])
    from appliance.media import decode_audio

    mono = decode_audio(media_dir(c) / "forest/forest_birdsong_countryside.ogg", 48000, 1)
    np.testing.assert_allclose(forest[:, 0], mono[48000:96000, 0], atol=1.5 / 32767)
    assert c.audio_float32(10, 20).shape == (10, 2)


def test_announcement(small: Path) -> None:
    c = load_corpus(small)
    if shutil.which("espeak-ng"):
        assert c.announcement is not None and c.announcement.stat().st_size > 1000
        import soundfile

        assert soundfile.info(str(c.announcement)).duration > 0.3
    else:
        assert c.announcement is None


def test_no_pickle_anywhere(small: Path) -> None:
    for npy in small.glob("*.npy"):
        arr = np.load(npy, allow_pickle=False, mmap_mode="r")
        assert arr.dtype != object
    json.loads((small / MANIFEST).read_text())


def _copy(small: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(small, out)
    return out


def test_wrong_model_is_refused_with_the_rebuild_command(small: Path, tmp_path: Path) -> None:
    with pytest.raises(CorpusError) as err:
        load_corpus(small, "0" * 64)
    msg = str(err.value)
    assert "built with model" in msg and "rebuild with: soundscape corpus build" in msg
    assert "small.toml" in msg and str(small) in msg


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "wrong dtype", "delete"])
def test_corrupt_embeddings_are_refused(small: Path, tmp_path: Path, damage: str) -> None:
    c = _copy(small, tmp_path)
    f = c / EMBEDDINGS
    data = bytearray(f.read_bytes())
    if damage == "flip a byte":
        data[-100] ^= 0x55
        f.write_bytes(bytes(data))
    elif damage == "truncate":
        f.write_bytes(bytes(data[: len(data) // 2]))
    elif damage == "wrong dtype":
        np.save(f, np.load(f).astype(np.float16))
    else:
        f.unlink()
    with pytest.raises(CorpusError, match=r"embeddings\.npy"):
        load_corpus(c)


def test_other_broken_files_are_refused(small: Path, tmp_path: Path) -> None:
    c = _copy(small, tmp_path)
    np.save(c / "audio.npy", np.zeros((10, 2), np.int16))
    with pytest.raises(CorpusError, match=r"audio\.npy"):
        load_corpus(c)
    c2 = _copy(small, tmp_path / "b")
    labels = np.load(c2 / LABELS)
    labels[0, 0] = 99
    np.save(c2 / LABELS, labels)
    with pytest.raises(CorpusError, match=r"labels\.npy"):
        load_corpus(c2)
    c3 = _copy(small, tmp_path / "c")
    m = json.loads((c3 / MANIFEST).read_text())
    m["keyframe_times"][3] = m["keyframe_times"][2]
    (c3 / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(CorpusError, match="keyframe_times"):
        load_corpus(c3)
    m = json.loads((small / MANIFEST).read_text())
    m["keyframe_loudness_lufs"] = m["keyframe_loudness_lufs"][:-1]
    (c3 / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(CorpusError, match="keyframe_loudness_lufs must be 33 numbers in"):
        load_corpus(c3)
    (c3 / MANIFEST).write_text("{not json")
    with pytest.raises(CorpusError, match="unreadable"):
        load_corpus(c3)
    with pytest.raises(CorpusError, match="does not exist"):
        load_corpus(tmp_path / "nowhere")


def test_broken_sources_leave_nothing_behind(tmp_path: Path, media: Path, embedder) -> None:
    source = make_small_source(tmp_path / "src", media)
    out_parent = tmp_path / "out"
    out_parent.mkdir()
    (source.parent / "media/rain/rain_steady.ogg").unlink()
    with pytest.raises(CorpusError, match=r"rain_steady\.ogg"):
        build_corpus(source, out_parent / "c", embedder)
    # A file that is there but is not audio fails in the decoder, after the build started.
    (source.parent / "media/rain/rain_steady.ogg").write_bytes(b"not an ogg file at all" * 100)
    with pytest.raises(MediaError, match=r"rain_steady\.ogg"):
        build_corpus(source, out_parent / "c", embedder)
    assert list(out_parent.iterdir()) == []


def test_failed_rebuild_keeps_the_previous_corpus(small: Path, tmp_path: Path, media: Path,
                                                  embedder) -> None:
    out = _copy(small, tmp_path)
    before = (out / MANIFEST).read_bytes()
    source = make_small_source(tmp_path / "src", media)
    (source.parent / "media/farm/cow/cow.jpg").write_bytes(b"broken jpeg")
    with pytest.raises(Exception, match=r"cow\.jpg"):
        build_corpus(source, out, embedder)
    assert (out / MANIFEST).read_bytes() == before
    load_corpus(out)
    assert _leftovers(tmp_path) == []


def test_refuses_to_replace_a_folder_that_is_not_a_corpus(tmp_path: Path, media: Path,
                                                          embedder) -> None:
    source = make_small_source(tmp_path / "src", media)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me")
    with pytest.raises(CorpusError, match="not a corpus"):
        build_corpus(source, precious, embedder)
    assert (precious / "thesis.txt").read_text() == "keep me"


def test_video_with_sound_builds(tmp_path: Path, media: Path, embedder) -> None:
    clip = make_video(tmp_path / "meadow.mp4", media / "farm/cow/cow.jpg",
                      media / "farm/cow/cow_1.ogg", seconds=3.0)
    c = build_corpus(clip, tmp_path / "corpus", embedder, keyframe_interval_s=1.0)
    assert c.scene_names == ["meadow"] and set(c.scenes) == {"meadow"}
    assert c.name == "meadow"
    assert c.duration_s == pytest.approx(3.0, abs=0.1)
    assert list(c.keyframe_times) == [0.0, 1.0, 2.0]
    assert c.channels == 1 and c.manifest["source"]["kind"] == "video"
    stereo = c.audio_float32()
    assert stereo.shape == (c.frames, 2) and np.array_equal(stereo[:, 0], stereo[:, 1])
    np.testing.assert_allclose(stereo[:, 0], c.audio[:, 0] / 32767.0, atol=1e-6)
    # The keyframes are the clip's frames: the cow photo is nearest to them.
    from appliance.corpus import Matcher

    m = Matcher(c)
    d = m.distances(embedder.embed_file(media / "farm/cow/cow.jpg"))
    d_other = m.distances(embedder.embed_file(media / "harbour/harbour_city_quay.jpg"))
    assert d.max() < d_other.min()


def test_folder_of_videos_is_one_timeline(tmp_path: Path, media: Path, embedder) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    make_video(folder / "a_cows.mp4", media / "farm/cow/cow.jpg", media / "farm/cow/cow_1.ogg",
               seconds=2.0)
    make_video(folder / "b_harbour.mp4", media / "harbour/harbour_city_quay.jpg",
               media / "harbour/ship_horn.ogg", seconds=2.0)
    (folder / "notes.txt").write_text("not a video")
    c = build_corpus(folder, tmp_path / "corpus", embedder, keyframe_interval_s=0.5)
    assert c.scene_names == ["a_cows", "b_harbour"]
    spans = c.scene_spans()
    assert spans[1][1] == pytest.approx(spans[0][2])
    assert c.scenes.count("a_cows") == 4 and c.scenes.count("b_harbour") == 4
    assert c.keyframe_times[4] == pytest.approx(spans[1][1])


def test_video_without_sound_is_refused(tmp_path: Path, media: Path, embedder) -> None:
    clip = make_video(tmp_path / "silent.mp4", media / "farm/cow/cow.jpg", None, seconds=1.0)
    with pytest.raises(MediaError, match=r"silent\.mp4 has no audio track"):
        build_corpus(clip, tmp_path / "out" / "c", embedder)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_audio_file_as_video_source_is_refused(tmp_path: Path, media: Path, embedder) -> None:
    with pytest.raises(MediaError, match="no video track"):
        build_corpus(media / "farm/cow/cow_1.ogg", tmp_path / "c", embedder)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CorpusError, match="holds no videos"):
        build_corpus(empty, tmp_path / "c", embedder)
    with pytest.raises(CorpusError, match="not found"):
        build_corpus(tmp_path / "nothing.mp4", tmp_path / "c", embedder)
    assert _leftovers(tmp_path) == []


def test_read_ahead_maps_every_page_of_the_audio(small: Path) -> None:
    c = load_corpus(small)  # a fresh memory map: no page of it is mapped yet
    before_bytes = memory_bytes("RssFile")
    c.read_ahead()  # so the audio thread never waits for the disk
    grown = memory_bytes("RssFile") - before_bytes
    assert grown > 0.9 * c.audio.nbytes, (grown, c.audio.nbytes)
    assert not c.audio.flags.writeable
