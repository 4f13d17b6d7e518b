"""Issue 12's cases one by one: pictures, ``corpus build`` and its manifests, a state FIFO."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_corpus_support import make_small_source

from appliance.corpus import build_corpus
from appliance.corpus.fileformat import remove_stale_builds
from appliance.corpus.manifest import read_scene_manifest
from appliance.errors import CorpusError, ImageError
from appliance.vision.images import MAX_PIXELS, OUT_PIXELS, image_size, load_rgb


def png_declaring(path: Path, w: int, h: int) -> Path:
    """A PNG whose header declares w×h pixels (a decompression bomb's, with little data)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0,
                                                                       0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
    return path


# ------------------------------------------------------------------ pictures
@pytest.mark.parametrize("side", [30000, 13000])
def test_too_many_pixels_is_refused_in_one_line(tmp_path: Path, side: int) -> None:
    path = png_declaring(tmp_path / "bomb.png", side, side)
    with pytest.raises(ImageError) as err:
        load_rgb(path)
    text = str(err.value)
    assert str(path) in text and "million" in text and "\n" not in text


def test_sixteen_bit_grey_is_scaled_not_white(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (64, 1))
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    rgb = load_rgb(tmp_path / "g16.png")
    assert rgb.shape == (64, 256, 3) and rgb[0, 0, 0] == 0 and rgb[0, -1, 0] == 255
    assert abs(float(rgb.mean()) - 127.5) < 2  # PIL's own convert gives all white


def test_exif_orientation_stands_a_portrait_photo_up(tmp_path: Path) -> None:
    im = Image.new("RGB", (400, 200), (200, 0, 0))
    im.paste((0, 0, 200), (0, 0, 200, 200))  # blue on the left as stored
    exif = im.getexif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    im.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    rgb = load_rgb(tmp_path / "phone.jpg")
    assert rgb.shape == (400, 200, 3) and image_size(tmp_path / "phone.jpg") == (200, 400)
    assert rgb[50, 100, 2] > 150 and rgb[350, 100, 0] > 150  # the left is now on top


def test_alpha_is_flattened_onto_white(tmp_path: Path) -> None:
    Image.new("RGBA", (32, 32), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    assert load_rgb(tmp_path / "clear.png")[0, 0].tolist() == [255, 255, 255]


@pytest.mark.parametrize(("name", "data", "what"), [
    ("x.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "is not a JPEG, PNG, WebP or BMP"),
    ("text.jpg", b"hello", "is not a JPEG, PNG, WebP or BMP"),
    ("empty.png", b"", "is not a JPEG, PNG, WebP or BMP"),
])
def test_unknown_formats_are_refused_in_one_line(tmp_path: Path, name: str, data: bytes,
                                                 what: str) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ImageError, match=what):
        load_rgb(tmp_path / name)


def test_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "cam.jpg")
    with pytest.raises(ImageError, match="not a regular file"):
        load_rgb(tmp_path / "cam.jpg")


def test_a_large_jpeg_is_decoded_at_a_reduced_size(tmp_path: Path) -> None:
    Image.new("RGB", (6000, 4000), (20, 120, 40)).save(tmp_path / "big.jpg", quality=70)
    rgb = load_rgb(tmp_path / "big.jpg")
    assert rgb.shape[0] * rgb.shape[1] <= OUT_PIXELS and rgb.shape[1] / rgb.shape[0] == \
        pytest.approx(1.5, rel=0.01)
    assert np.abs(rgb.astype(int) - [20, 120, 40]).max() < 8


def test_the_largest_accepted_png_is_scaled_down(tmp_path: Path) -> None:
    w = 6000
    h = MAX_PIXELS // w
    Image.new("L", (w, h), 90).save(tmp_path / "wide.png")
    rgb = load_rgb(tmp_path / "wide.png")
    assert rgb.shape[0] * rgb.shape[1] <= OUT_PIXELS and int(rgb[5, 5, 0]) == 90
    Image.new("L", (w, h + 1), 90).save(tmp_path / "over.png")
    with pytest.raises(ImageError, match="the limit for PNG is 16 million"):
        load_rgb(tmp_path / "over.png")


# ------------------------------------------------------------------ corpus build
def test_output_under_a_file_or_proc_is_refused(tmp_path: Path, media: Path, embedder) -> None:
    source = make_small_source(tmp_path / "src", media)
    (tmp_path / "file").write_text("x")
    for out in (tmp_path / "file" / "corpus", Path("/proc/soundscape-corpus")):
        with pytest.raises(CorpusError, match="cannot build a corpus in"):
            build_corpus(source, out, embedder)


@pytest.mark.parametrize("interval", [1e-9, 0.0, float("nan"), float("inf"), 1e9])
def test_absurd_intervals_are_refused(tmp_path: Path, embedder, interval: float) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"x")
    with pytest.raises(CorpusError, match="keyframe interval"):
        build_corpus(tmp_path / "clip.mp4", tmp_path / "out", embedder,
                     keyframe_interval_s=interval)


def test_manifest_naming_a_bomb_or_nan_seconds_is_refused(tmp_path: Path, media: Path) -> None:
    source = make_small_source(tmp_path / "src", media)
    png_declaring(source.parent / "media" / "bomb.png", 30000, 30000)
    text = source.read_text()
    source.write_text(text.replace('"media/forest/forest_path.jpg"', '"media/bomb.png"'))
    with pytest.raises(CorpusError, match=r"bomb\.png.*million"):
        read_scene_manifest(source)
    source.write_text(text.replace('name = "rain"\n', 'name = "rain"\naudio_seconds = nan\n'))
    with pytest.raises(CorpusError, match="'audio_seconds' must be a positive number"):
        read_scene_manifest(source)


def test_folders_left_by_killed_builds_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "night"
    dead = tmp_path / ".night.building-999999999-abcd"  # no such process
    mine = tmp_path / f".night.building-{os.getpid()}-abcd"  # a build still running
    old = tmp_path / ".night.building-k2j4h5"  # an older version's name, an hour old
    other = tmp_path / ".forest.building-999999999-abcd"
    for d in (dead, mine, old, other):
        d.mkdir()
    os.utime(old, (1, 1))
    assert sorted(remove_stale_builds(out)) == sorted([dead, old])
    assert mine.is_dir() and other.is_dir()


def test_state_fifo_gives_defaults_without_hanging(tmp_path: Path) -> None:
    from appliance.state import State, load_state

    os.mkfifo(tmp_path / "state.json")
    assert load_state(tmp_path / "state.json") == State()
