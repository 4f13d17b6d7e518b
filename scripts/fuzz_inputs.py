#!/usr/bin/env python3
"""Hostile files, tried as an adversarial user would (issue 12's matrix), rerunnable.

    .venv/bin/python scripts/fuzz_inputs.py [--seed S] [--cases N] [--json]

Mutates copies of a real built corpus (truncations, bit flips in every file,
numbers out of every range, ``.npy`` headers, deep nesting, huge integers), a
config file, a state file and pictures, and sorts every case into:

- ``refused``: the project's own error, one line naming the file;
- ``plays``: it loads and then works: a corpus renders a second of finite,
  audible sound through the matcher and the granulator (and its spoken name
  decodes); a config gives synth settings that render; a state file gives
  values in range; a picture embeds to a finite match;
- ``other``: anything else (a traceback, a hang over 20 s, silence, a
  message of several lines). Zero is the goal.

The last stdout line is one JSON object: per kind, the counts and the labels of
the ``other`` cases. ``tests/test_fuzz_inputs.py`` runs the same cases (fewer).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from appliance.errors import SoundscapeError  # noqa: E402

Mutation = tuple[str, Callable[[Path], None]]
HANG_S = 20

# ------------------------------------------------------------------ hostile values
#: JSON texts put in place of a manifest value (raw, so NaN and huge integers get through).
RAW_VALUES = ["null", "true", "-1", "0", "1", "8000", "44100", "1e308", "-1e308", "3e38",
              "1e-300", "NaN", "Infinity", "-Infinity", "9" * 30, "9" * 400, "9" * 5000,
              '"x"', '""', "[]", "{}", "[1e308]", "[" * 100_000 + "]" * 100_000]


class RawValue:
    """A JSON text to put in a manifest as it is (NaN, a 5000-digit integer, deep nesting)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawValue({self.text[:20]!r})"


def _short(raw: str) -> str:
    return raw if len(raw) <= 20 else f"{raw[:12]}… ({len(raw)} chars)"


def _raw_json(obj: object, raw: dict[str, str]) -> str:
    text = json.dumps(obj)
    for token, value in raw.items():
        text = text.replace(json.dumps(token), value)
    return text


def _manifest(d: Path) -> dict:
    return json.loads((d / "corpus.json").read_text())


def _set_path(m: dict, path: tuple, value: object) -> None:
    target = m
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _numeric_paths(m: dict) -> list[tuple]:
    """Every place in a manifest that holds a number (or a list of numbers, sampled)."""
    out: list[tuple] = []
    for key, value in m.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float):
            out.append((key,))
        elif isinstance(value, dict):
            out += [(key, k) for k, v in value.items() if isinstance(v, int | float)
                    and not isinstance(v, bool)]
        elif isinstance(value, list) and value:
            if isinstance(value[0], int | float):
                out += [(key, 0), (key, len(value) - 1)]
            elif isinstance(value[0], list):
                out += [(key, 0, 1), (key, len(value) - 1, 2)]
    return out


def _with_crc(d: Path, name: str, arr: np.ndarray) -> None:
    """Save ``arr`` as ``name`` and fix its checksum: the damage gets past the CRC."""
    from appliance.corpus.fileformat import crc32

    np.save(d / name, arr, allow_pickle=False)
    m = _manifest(d)
    m.setdefault("crc32", {})[name] = crc32(arr)
    (d / "corpus.json").write_text(json.dumps(m))


def corpus_mutations(corpus: Path, rng: random.Random, n_random: int) -> Iterator[Mutation]:
    """Named mutations of a corpus directory (applied to a copy)."""
    m0 = _manifest(corpus)
    files = sorted(p.name for p in corpus.iterdir() if p.is_file())

    for name in files:
        size = (corpus / name).stat().st_size
        for frac in (0.0, 0.5, 0.99):
            cut = int(size * frac)
            yield f"truncate {name} to {cut} B", lambda d, n=name, c=cut: os.truncate(d / n, c)
        yield f"delete {name}", lambda d, n=name: (d / n).unlink()

    def flip(d: Path, name: str, positions: list[int]) -> None:
        data = bytearray((d / name).read_bytes())
        for pos in positions:
            data[pos % len(data)] ^= 1 << (pos % 8)
        (d / name).write_bytes(bytes(data))

    for name in files:
        size = (corpus / name).stat().st_size
        header = min(size, 128)
        for _ in range(n_random):
            where = [rng.randrange(header) for _ in range(rng.choice((1, 3)))]
            yield f"flip header bits {where} of {name}", lambda d, n=name, w=where: flip(d, n, w)
            where = [rng.randrange(size) for _ in range(rng.choice((1, 8)))]
            yield f"flip bits {where} of {name}", lambda d, n=name, w=where: flip(d, n, w)

    for path in _numeric_paths(m0) + [(k,) for k in m0 if not isinstance(m0[k], int | float)]:
        for raw in rng.sample(RAW_VALUES, min(len(RAW_VALUES), max(3, n_random))):
            def put(d: Path, p=path, r=raw) -> None:
                m = _manifest(d)
                _set_path(m, p, "@@RAW@@")
                (d / "corpus.json").write_text(_raw_json(m, {"@@RAW@@": r}))
            yield f"manifest {'.'.join(map(str, path))} = {_short(raw)}", put

    big = "9" * 400  # an integer too large for a float
    issue = [(("loudness_lufs",), "1e308"), (("frames",), big), (("duration_s",), big),
             (("loudness_lufs",), big), (("keyframe_times", 1), big),
             (("keyframe_loudness_lufs", 0), big), (("matching", "tau"), big),
             (("scene_spans", 0, 2), big), (("frames",), "9" * 5000)]
    for path, raw in issue:
        def put_issue(d: Path, p=path, r=raw) -> None:
            m = _manifest(d)
            _set_path(m, p, "@@RAW@@")
            (d / "corpus.json").write_text(_raw_json(m, {"@@RAW@@": r}))
        yield f"issue 12: manifest {'.'.join(map(str, path))} = {_short(raw)}", put_issue

    def consistent_rate(d: Path, rate: int) -> None:
        m = _manifest(d)
        m["sample_rate"] = rate
        m["duration_s"] = m["frames"] / rate
        scale = 48000 / rate
        m["scene_spans"] = [[n, a * scale, b * scale] for n, a, b in m["scene_spans"]]
        (d / "corpus.json").write_text(json.dumps(m))

    for rate in (8000, 44100, 96000):
        yield (f"sample_rate {rate}, other fields consistent",
               lambda d, r=rate: consistent_rate(d, r))

    def npy_header(d: Path, name: str, shape: tuple, dtype: str = "") -> None:
        with open(d / name, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            _, _, old = read(fh)
            data = fh.read()
        head = {"descr": dtype or np.lib.format.dtype_to_descr(old), "fortran_order": False,
                "shape": shape}
        with open(d / name, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, head)
            fh.write(data)

    for name in [f for f in files if f.endswith(".npy")]:
        for shape in ((10**9, 2048), (0,), (-1,), (2**62, 2**62)):
            yield f"{name} header shape {shape}", lambda d, n=name, s=shape: npy_header(d, n, s)
        yield f"{name} header dtype <f8", lambda d, n=name: npy_header(
            d, n, np.load(d / n, mmap_mode="r").shape, "<f8")
        yield f"{name} pickled object", lambda d, n=name: np.save(
            d / n, np.array([{"a": 1}], dtype=object), allow_pickle=True)

    scales = np.load(corpus / "scales.npy")
    for value in (3e38, np.inf, np.nan, 0.0, -1.0, 1e-38, 1e6):
        yield f"scales all {value} (checksum fixed)", lambda d, v=value: _with_crc(
            d, "scales.npy", np.full_like(scales, v))
    if (corpus / "scene_axes.npy").is_file():
        axes = np.load(corpus / "scene_axes.npy")
        centres = np.load(corpus / "scene_centres.npy")
        for value in (3e38, np.inf, np.nan, 1e6):
            yield f"scene axes all {value} (checksum fixed)", lambda d, v=value: _with_crc(
                d, "scene_axes.npy", np.full_like(axes, v))
        yield "scene centres for one scene too few (checksum fixed)", lambda d: _with_crc(
            d, "scene_centres.npy", centres[:-1])
        yield "scene axes of another width (checksum fixed)", lambda d: _with_crc(
            d, "scene_axes.npy", np.zeros((axes.shape[0], axes.shape[1] + 1), np.float32))
    emb = np.load(corpus / "embeddings.npy")
    yield "embeddings random (checksum fixed)", lambda d: _with_crc(
        d, "embeddings.npy", np.random.default_rng(1).integers(-128, 127, emb.shape, np.int8))
    yield "embeddings all -128 (checksum fixed)", lambda d: _with_crc(
        d, "embeddings.npy", np.full_like(emb, -128))
    labels = np.load(corpus / "labels.npy")
    for col in range(labels.shape[1]):
        for value in (-2, 10**6):
            def bad_label(d: Path, c=col, v=value) -> None:
                arr = labels.copy()
                arr[0, c] = v
                _with_crc(d, "labels.npy", arr)
            yield f"labels column {col} = {value} (checksum fixed)", bad_label
    audio = np.load(corpus / "audio.npy", mmap_mode="r")
    yield "audio all zeros", lambda d: np.save(d / "audio.npy", np.zeros_like(audio))
    yield "audio full-scale noise", lambda d: np.save(
        d / "audio.npy", np.random.default_rng(2).integers(-32768, 32767, audio.shape, np.int16))
    yield "audio as float32", lambda d: np.save(d / "audio.npy", np.asarray(audio, np.float32))
    yield "manifest is a list", lambda d: (d / "corpus.json").write_text("[]")
    yield "manifest nested 100000 deep", lambda d: (d / "corpus.json").write_text(
        "[" * 100_000 + "]" * 100_000)
    yield "manifest of 70 MB", lambda d: (d / "corpus.json").write_text(" " * (70 << 20) + "{}")
    yield "manifest not UTF-8", lambda d: (d / "corpus.json").write_bytes(b"\xff\xfe{}")
    yield "manifest is a FIFO", lambda d: ((d / "corpus.json").unlink(),
                                           os.mkfifo(d / "corpus.json"))
    yield "audio.npy is a folder", lambda d: ((d / "audio.npy").unlink(),
                                             (d / "audio.npy").mkdir())
    yield "announcement path leaves the corpus", lambda d: _edit(d, announcement="../x.wav")
    yield "announcement is noise", lambda d: (d / "announce.wav").write_bytes(
        os.urandom(5000)) if (d / "announce.wav").exists() else None


def _edit(d: Path, **fields: object) -> None:
    m = _manifest(d)
    m.update(fields)
    (d / "corpus.json").write_text(json.dumps(m))


# ------------------------------------------------------------------ outcomes
class _Hang(Exception):
    pass


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def ring(*_: object) -> None:
        raise _Hang(f"no answer in {seconds} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _refusal(exc: SoundscapeError) -> str:
    text = str(exc)
    return "refused" if text and "\n" not in text and len(text) < 600 else "other: message"


def corpus_plays(directory: Path, embedding, model_sha: str | None = None) -> str:
    """Load a corpus and render a second of sound the way the engine does: the outcome."""
    from appliance.corpus.fileformat import load_corpus
    from appliance.corpus.matcher import Matcher
    from appliance.cues import load_speech
    from appliance.synth.granulator import Granulator
    from appliance.synth.source import Source

    try:
        with _deadline(HANG_S):
            corpus = load_corpus(directory, model_sha)
    except SoundscapeError as exc:
        return _refusal(exc)
    except BaseException as exc:
        return f"other: load {type(exc).__name__}"
    try:
        with _deadline(HANG_S):
            matcher = Matcher(corpus)
            d = matcher.distances(embedding)
            p = matcher.probabilities_from_distances(d, matcher.known_confidence(embedding, d))
            if not (np.all(np.isfinite(p)) and abs(p.sum() - 1.0) < 1e-6):
                return "other: p not finite"
            pan = matcher.positions(embedding.feature_map, p) if embedding.feature_map is not None \
                else None
            matcher.scene_masses(p)
            matcher.top(p, d)
            corpus.scene_spans()
            g = Granulator(seed=1)
            g.set_source(Source.from_corpus(corpus), p, crossfade=False)
            g.set_probability(p, pan)
            out = np.zeros((g.block_size, 2), dtype=np.float32)
            peak = 0.0
            for _ in range(48000 // g.block_size):
                g.render(out)
                if not np.all(np.isfinite(out)):
                    return "other: sound not finite"
                peak = max(peak, float(np.abs(out).max()))
            if corpus.announcement is not None:
                with contextlib.suppress(SoundscapeError):  # the engine logs and speaks
                    cue = load_speech(corpus.announcement, 48000)
                    if not np.all(np.isfinite(cue)):
                        return "other: announcement not finite"
    except BaseException as exc:
        return f"other: play {type(exc).__name__}"
    silent = float(np.abs(corpus.audio[: 48000 * 20]).max()) == 0
    return "plays" if peak > 1e-4 or silent else "other: silent"


def config_plays(path: Path) -> str:
    from appliance.app import make_settings
    from appliance.config import load_config
    from appliance.synth.granulator import Granulator

    try:
        with _deadline(HANG_S):
            cfg = load_config(path)
    except SoundscapeError as exc:
        return _refusal(exc)
    except BaseException as exc:
        return f"other: {type(exc).__name__}"
    try:
        s = make_settings(cfg, seed=1)
        if s.sample_rate != 48000:
            return "other: plays at the wrong rate"
        g = Granulator(s.sample_rate, s.block_size, s.params, seed=1)
        g.render(np.zeros((g.block_size, 2), dtype=np.float32))
    except BaseException as exc:
        return f"other: settings {type(exc).__name__}"
    return "plays"


def state_plays(path: Path) -> str:
    from appliance.state import load_state

    try:
        with _deadline(HANG_S):
            st = load_state(path)
    except BaseException as exc:
        return f"other: {type(exc).__name__}"
    ok = (isinstance(st.corpus, str) and 0 <= st.volume <= 1 and isinstance(st.muted, bool)
          and 0 <= st.timer_min <= 1440)
    return "plays" if ok else "other: value out of range"


def image_plays(path: Path, embedder, matcher) -> str:
    from appliance.vision.images import load_rgb

    try:
        with _deadline(HANG_S):
            rgb = load_rgb(path)
            x = embedder.embed_full(rgb) if matcher.needs_feature_map else embedder.embed(rgb)
    except SoundscapeError as exc:
        return _refusal(exc)
    except BaseException as exc:
        return f"other: {type(exc).__name__}"
    p = matcher.probabilities(x)
    return "plays" if np.all(np.isfinite(p)) else "other: p not finite"


# ------------------------------------------------------------------ configs, states, images
def config_texts(rng: random.Random, n_random: int) -> Iterator[tuple[str, bytes | None]]:
    """(label, file bytes); None = a FIFO."""
    example = (ROOT / "config.example.toml").read_bytes()
    yield "the example", example
    yield "empty", b""
    yield "nested 50000 deep", b"[audio]\nx = " + b"[" * 50_000 + b"]" * 50_000 + b"\n"
    yield "5000-digit integer", b"[audio]\nblock_size = " + b"9" * 5000 + b"\n"
    yield "4000-digit integer", b"[audio]\nblock_size = " + b"9" * 4000 + b"\n"
    yield "a FIFO", None
    yield "2 MB of comment", b"#" + b"x" * (2 << 20)
    yield "not UTF-8", b"\xff\xfe[audio]"
    yield "sample_rate 44100", b"[audio]\nsample_rate = 44100\n"
    yield "sample_rate 8000", b"[audio]\nsample_rate = 8000\n"
    for key, values in (("synth.grains_per_s", ("nan", "inf", "-1", "1e308", "0", "400")),
                        ("synth.grain_min_ms", ("10", "500", '"50"', "[50]")),
                        ("synth.crossfade_s", ("nan", "10", "-0.0")),
                        ("camera.fps", ("0", "1e-300", "30")),
                        ("audio.block_size", ("63", "2048", "1024.0")),
                        ("volume.initial", ("nan", "1.0000001", "true")),
                        ("timer.choices_min", ("[]", "[1441]", "[0, 0]", "[" * 1000 + "]" * 1000)),
                        ("corpora.order", ('["\\u0000"]', '[""]', "[1]"))):
        section, name = key.split(".")
        for v in values:
            yield f"{key} = {v[:20]}", f"[{section}]\n{name} = {v}\n".encode()
    for i in range(n_random):
        data = bytearray(example)
        for _ in range(rng.choice((1, 4, 16))):
            data[rng.randrange(len(data))] = rng.randrange(256)
        yield f"example with random bytes #{i}", bytes(data)
        yield f"example truncated #{i}", example[: rng.randrange(len(example))]


def state_texts(rng: random.Random, n_random: int) -> Iterator[tuple[str, bytes | None]]:
    good = b'{"version": 1, "corpus": "night", "volume": 0.5, "muted": false, "timer_min": 15}\n'
    yield "a good one", good
    yield "empty", b""
    yield "a FIFO", None
    yield "nested 100000 deep", b"[" * 100_000 + b"]" * 100_000
    yield "5000-digit volume", b'{"volume": ' + b"9" * 5000 + b"}"
    yield "NaN volume", b'{"volume": NaN}'
    yield "1e999 volume", b'{"volume": 1e999}'
    yield "huge timer", b'{"timer_min": ' + b"9" * 400 + b"}"
    yield "1 MB of spaces", b" " * (1 << 20) + good
    yield "not UTF-8", b"\xff" + good
    for i in range(n_random):
        data = bytearray(good)
        for _ in range(rng.choice((1, 3))):
            data[rng.randrange(len(data))] = rng.randrange(256)
        yield f"random bytes #{i}", bytes(data)
        yield f"truncated #{i}", good[: rng.randrange(len(good))]


def _write_case(path: Path, data: bytes | None) -> None:
    if data is None:
        os.mkfifo(path)
    else:
        path.write_bytes(data)


def image_cases(folder: Path) -> Iterator[tuple[str, Path]]:
    """Pictures an adversarial user would try (each written once into ``folder``)."""
    import struct
    import zlib

    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    photo = ROOT / "corpora" / "media" / "farm" / "cow" / "cow.jpg"
    base = Image.open(photo).convert("RGB")

    def save(name: str, im: Image.Image, **kw: object) -> Path:
        out = folder / name
        if not out.exists():
            im.save(out, **kw)
        return out

    yield "the cow photo", photo
    for mode in ("1", "L", "P", "LA", "RGBA", "CMYK", "I", "F"):
        fmt = "jpg" if mode == "CMYK" else "tif" if mode in ("I", "F") else "png"
        yield f"{mode} {fmt}", save(f"mode_{mode}.{fmt}", base.convert(mode))
    grey16 = Image.fromarray(np.asarray(base.convert("L"), np.uint16) * 257)
    yield "16-bit grey png", save("grey16.png", grey16)
    for fmt in ("webp", "bmp", "gif", "tiff", "ico"):
        yield f"as {fmt}", save(f"cow.{fmt}", base)
    exif = base.getexif()
    exif[0x0112] = 6
    yield "EXIF orientation 6", save("rotated.jpg", base, exif=exif)
    yield "1×1 png", save("tiny.png", Image.new("RGB", (1, 1)))
    yield "4000×1 png", save("strip.png", Image.new("RGB", (4000, 1)))
    svg = folder / "x.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    yield "svg", svg
    txt = folder / "text.jpg"
    txt.write_text("not a picture")
    yield "text named .jpg", txt
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    yield "empty file", empty
    data = photo.read_bytes()
    for frac in (0.1, 0.5, 0.9):
        cut = folder / f"cut{int(frac * 100)}.jpg"
        cut.write_bytes(data[: int(len(data) * frac)])
        yield f"jpeg truncated to {int(frac * 100)} %", cut
    rng = random.Random(5)
    for i in range(4):
        flipped = bytearray(data)
        for _ in range(8):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        path = folder / f"flip{i}.jpg"
        path.write_bytes(bytes(flipped))
        yield f"jpeg with 8 flipped bits #{i}", path

    def png_header(name: str, w: int, h: int) -> Path:
        """A PNG declaring w×h pixels (a decompression bomb's header, little data)."""
        def chunk(kind: bytes, body: bytes) -> bytes:
            return (struct.pack(">I", len(body)) + kind + body
                    + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
        idat = zlib.compress(b"\0" * 1000)
        out = folder / name
        out.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                        + chunk(b"IEND", b""))
        return out

    yield "png declaring 30000×30000", png_header("bomb30k.png", 30000, 30000)
    yield "png declaring 13000×13000", png_header("bomb13k.png", 13000, 13000)
    yield "png declaring 2^31×1", png_header("wide.png", 2**31 - 1, 1)
    fifo = folder / "fifo.jpg"
    if not fifo.exists():
        os.mkfifo(fifo)
    yield "a FIFO named .jpg", fifo
    yield "a folder named .jpg", _mkdir(folder / "dir.jpg")


def _mkdir(path: Path) -> Path:
    path.mkdir(exist_ok=True)
    return path


# ------------------------------------------------------------------ the run
def build_small_corpus(work: Path, embedder) -> Path:
    """A real two-scene corpus (two recordings, four photos) built with the real model."""
    from appliance.corpus import build_corpus

    media = ROOT / "corpora" / "media"
    photos = ["farm/cow/cow.jpg", "farm/farm_hay_bales.jpg", "rain/rain_drops_on_leaves.jpg",
              "rain/rain_storm_clouds_sea.jpg"]
    audio = ["farm/cow/cow_1.ogg", "rain/rain_steady.ogg"]
    src = work / "source"
    for rel in photos + audio:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(media / rel, src / rel)
    (src / "fuzz.toml").write_text(
        'name = "fuzz"\n'
        '[[scene]]\nname = "farm"\naudio = ["farm/cow/cow_1.ogg"]\n'
        'photos = ["farm/cow/cow.jpg", "farm/farm_hay_bales.jpg"]\n'
        '[[scene]]\nname = "rain"\naudio = ["rain/rain_steady.ogg"]\n'
        'photos = ["rain/rain_drops_on_leaves.jpg", "rain/rain_storm_clouds_sea.jpg"]\n')
    out = work / "fuzz"
    build_corpus(src / "fuzz.toml", out, embedder)
    return out


def run(seed: int, n_random: int, work: Path, *, kinds: tuple[str, ...] = (
        "corpus", "config", "state", "image"), corpus: Path | None = None,
        embedder=None, verbose: bool = False) -> dict[str, dict]:
    """Try every case; return ``{kind: {"cases", "refused", "plays", "other": [labels]}}``."""
    from appliance.corpus.fileformat import load_corpus
    from appliance.corpus.matcher import Matcher

    if embedder is None:
        from appliance.vision.embedder import Embedder

        embedder = Embedder()
    if corpus is None:
        corpus = build_small_corpus(work, embedder)
    photo = ROOT / "corpora" / "media" / "farm" / "cow" / "cow.jpg"
    from appliance.vision.images import load_rgb

    embedding = embedder.embed_full(load_rgb(photo))
    rng = random.Random(seed)
    results: dict[str, dict] = {}

    def count(kind: str, label: str, outcome: str) -> None:
        r = results.setdefault(kind, {"cases": 0, "refused": 0, "plays": 0, "other": []})
        r["cases"] += 1
        if outcome in ("refused", "plays"):
            r[outcome] += 1
        else:
            r["other"].append(f"{label}: {outcome}")
        if verbose:
            print(f"{kind:7} {outcome:24} {label[:90]}", flush=True)

    if "corpus" in kinds:
        # Warm up (the synthesizer compiles or loads its kernel) outside any deadline.
        print(f"the built corpus: {corpus_plays(corpus, embedding)}", file=sys.stderr)
        for label, mutate in corpus_mutations(corpus, rng, n_random):
            case = work / "case"
            if case.exists():
                shutil.rmtree(case)
            shutil.copytree(corpus, case)
            try:
                mutate(case)
            except Exception as exc:  # the harness' own bug: say so, do not count it
                print(f"mutation {label!r} could not be applied: {exc!r}", file=sys.stderr)
                continue
            count("corpus", label, corpus_plays(case, embedding))
    for kind, texts, name, plays in (("config", config_texts, "config.toml", config_plays),
                                     ("state", state_texts, "state.json", state_plays)):
        if kind not in kinds:
            continue
        path = work / name
        for label, data in texts(rng, n_random):
            path.unlink(missing_ok=True)
            _write_case(path, data)
            count(kind, label, plays(path))
    if "image" in kinds:
        matcher = Matcher(load_corpus(corpus))
        for label, path in image_cases(work / "images"):
            count("image", label, image_plays(path, embedder, matcher))
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--cases", type=int, default=3, help="random cases per file and kind")
    ap.add_argument("--kinds", default="corpus,config,state,image")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fuzz-inputs-") as tmp:
        results = run(args.seed, args.cases, Path(tmp), kinds=tuple(args.kinds.split(",")),
                      verbose=not args.quiet)
    for kind, r in results.items():
        print(f"{kind:7} {r['cases']:4} cases: {r['refused']:4} refused, {r['plays']:4} play, "
              f"{len(r['other']):3} other")
        for line in r["other"]:
            print(f"        other: {line[:110]}")
    print(json.dumps({k: {**v, "other_count": len(v["other"])} for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
