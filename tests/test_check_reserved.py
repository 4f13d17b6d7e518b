"""scripts/check_reserved.py: the check that keeps the project's evaluation photos out of the
repository finds copies, crops and mirror images of an indexed picture, and only those."""

from __future__ import annotations

import importlib.util
import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from appliance import CORPORA_DIR

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_reserved",
                                               ROOT / "scripts" / "check_reserved.py")
check_reserved = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_reserved)

DEV = CORPORA_DIR / "dev"
RESERVED = DEV / "dev_waterfall_niagara_cave_mist.jpg"  # stands in for a reserved picture
OTHERS = sorted(DEV.glob("dev_*.jpg"))[:40]


def _rcc(files: dict[str, tuple[bytes, bool]]) -> bytes:
    """A Qt resource file (format version 1): one root folder holding ``files``
    (name → (bytes, zlib-compressed?))."""
    names, data, nodes = b"", b"", []
    for name, (content, compress) in files.items():
        name_off = len(names)
        names += struct.pack(">HI", len(name), 0) + name.encode("utf-16-be")
        blob = struct.pack(">I", len(content)) + zlib.compress(content) if compress else content
        nodes.append(struct.pack(">IHHHI", name_off, 1 if compress else 0, 0, 0, len(data)))
        data += struct.pack(">I", len(blob)) + blob
    tree = struct.pack(">IHII", 0, 2, len(files), 1) + b"".join(nodes)
    header = 20
    return (b"qres" + struct.pack(">IIII", 1, header, header + len(tree),
                                  header + len(tree) + len(data)) + tree + data + names)


def test_resource_files_are_read_whole_compressed_or_not():
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, "PNG")
    files = {"notes.txt": (b"plain text", False), "red.png": (png.getvalue(), True)}
    assert dict(check_reserved.iter_rcc(_rcc(files))) == {
        "/notes.txt": b"plain text", "/red.png": png.getvalue()}
    with pytest.raises(ValueError):
        list(check_reserved.iter_rcc(b"not a resource file"))


def _jpeg(im: Image.Image, quality: int = 70) -> bytes:
    out = io.BytesIO()
    im.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="module")
def index():
    images = [(f"reserved-package 1.0 {p.name}", p.read_bytes()) for p in [RESERVED]]
    return check_reserved.build_index(iter(images))


def test_copies_crops_and_mirrors_match(index):
    im = Image.open(RESERVED)
    w, h = im.size
    copies = {
        "half size, JPEG q70": im.resize((w // 2, h // 2)),
        "80 % centre crop": im.crop((w // 10, h // 10, w - w // 10, h - h // 10)),
        "80 % crop at a corner": im.crop((0, 0, int(w * 0.8), int(h * 0.8))),
        "mirror image": im.transpose(Image.FLIP_LEFT_RIGHT),
    }
    for what, copy in copies.items():
        matched, score, source = check_reserved.best_match(index, _jpeg(copy))
        assert matched, f"{what}: S={score:.1f}"
        assert source.startswith("reserved-package 1.0")


def test_other_photos_do_not_match(index):
    scores = []
    for path in OTHERS:
        if path == RESERVED:
            continue
        matched, score, _ = check_reserved.best_match(index, path)
        assert not matched, path.name
        scores.append(score)
    assert min(scores) > check_reserved.S_MAX


def test_check_fails_on_an_uncredited_copy_only(index, tmp_path, capsys):
    im = Image.open(RESERVED)
    (tmp_path / "credited.jpg").write_bytes(_jpeg(im, 85))
    (tmp_path / "uncredited.jpg").write_bytes(_jpeg(im.transpose(Image.FLIP_LEFT_RIGHT)))
    (tmp_path / "unrelated.jpg").write_bytes(OTHERS[1].read_bytes())
    (tmp_path / "CREDITS.md").write_text(
        "| file | source |\n|---|---|\n| credited.jpg | Debian: reserved-package 1.0 |\n"
        "| uncredited.jpg | npm: some-theme 2.0 | not from reserved-package 1.0 |\n"
        "| unrelated.jpg | npm: some-theme 2.0 |\n",
        encoding="utf-8")
    assert check_reserved.check(index, [tmp_path]) == 1
    out = capsys.readouterr().out
    assert "MATCH" in out and "uncredited.jpg" in out
    assert "credited  " in out and "unrelated.jpg" not in out
    (tmp_path / "uncredited.jpg").unlink()
    assert check_reserved.check(index, [tmp_path]) == 0
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a picture")
    assert check_reserved.check(index, [tmp_path]) == 1
    assert "UNREADABLE" in capsys.readouterr().out
