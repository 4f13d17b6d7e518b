"""The corpus on disk: one directory, no pickle, every field checked on load.

::

    corpus.json        the manifest (UTF-8 JSON, see load_corpus for every field)
    audio.npy          int16 PCM, C-order (frames, channels), 48 kHz: memory-mapped on load
    embeddings.npy     int8 (K, D): keyframe vectors in the matching space, one row each
    scales.npy         float32 (K,): row k of the vectors is embeddings[k] * scales[k]
    labels.npy         int32 (K, 4): scene index, segment index (-1: none), origin index,
                       variant index (into the manifest's scene/segment/origin/variant lists)
    feature_mean.npy   float32 (D,): only when the matching space is centred
    class_support.npy  float32 (scenes, 1000): per scene and ImageNet class, the largest
                       posterior any of the scene's keyframes gives the class (builder 6
                       on; builder 3 to 5: (1000,), one row for the whole corpus;
                       corpus/known.py)
    class_index.npy    int16 (K, T): each keyframe's T most probable ImageNet classes
    class_sqrt.npy     uint8 (K, T): the square roots of their renormalised posteriors × 255
                       (the class part of the matching space, classpart.py; only when
                       the features' ``classes`` weight is above 0)
    scene_axes.npy     float32 (D, m) and scene_centres.npy float32 (scenes, m): the scene
                       part (discriminant.py; only when the features' ``scenes`` weight is
                       above 0 and the corpus has two scenes or more)
    background*.npy    the background's rows (builder 8 on, background.py): int8 (B, D)
                       and float32 (B,) scales like the keyframes', their class parts
                       (int16 / uint8 (B, T)) and the background's place on the scene axes
                       (float32 (m,)); the manifest's ``background`` says B and the share
    announce.wav       the spoken name (only when espeak-ng was there at build time)

Keyframe times (s, float64) are in the manifest. Keyframe k spans
[t_k, t_{k+1}), the last one to the end of the audio; t_0 is 0. The small
arrays carry a CRC-32 in the manifest (a bit flipped in an embedding is
caught); the audio is checked by shape and size only, so opening a corpus
stays a few milliseconds however long its audio.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from appliance.corpus.features import FeatureSpace
from appliance.corpus.mapping import MappingParams
from appliance.errors import (
    CorpusDamagedError,
    CorpusError,
    CorpusMissingError,
    CorpusStaleError,
)

FORMAT = 1
MANIFEST = "corpus.json"
#: The only rate a corpus is built at and played at (the output's ``[audio] sample_rate``).
SAMPLE_RATE = 48000
#: Limits a corpus that loads must stay inside (anything beyond them is damage, and would
#: fail or fall silent when the corpus plays): the manifest's size, bytes; the small
#: arrays' size, bytes (36,000 keyframes of 2048-d int8 are 74 MB); the audio's length,
#: frames (24 h); a scale of a keyframe row (the builder's are below 0.1: 127 × scale is
#: the row's largest value); the loudness figures (LUFS: the meter's floor to above full
#: scale).
MAX_MANIFEST_BYTES = 64 << 20
MAX_ARRAY_BYTES = 1 << 30
MAX_FRAMES = 24 * 3600 * SAMPLE_RATE
MAX_SCALE = 1000.0
LOUDNESS_RANGE_LUFS = (-70.0, 10.0)
AUDIO, EMBEDDINGS, SCALES, LABELS, MEAN, CLASSES = (
    "audio.npy", "embeddings.npy", "scales.npy", "labels.npy", "feature_mean.npy",
    "class_support.npy")
CLASS_INDEX, CLASS_SQRT = "class_index.npy", "class_sqrt.npy"
SCENE_AXES, SCENE_CENTRES = "scene_axes.npy", "scene_centres.npy"
BG_EMBEDDINGS, BG_SCALES, BG_CLASS_INDEX, BG_CLASS_SQRT, BG_CENTRE = (
    "background.npy", "background_scales.npy", "background_class_index.npy",
    "background_class_sqrt.npy", "background_centre.npy")
#: Most background rows a corpus may carry (photos × variants; background.py).
MAX_BACKGROUND_ROWS = 20_000
#: The oldest builder whose corpora this appliance plays: builder 3 added the class
#: support that tells unknown sights apart; an older corpus would call up its places
#: for a living room as surely as for a harbour, so it is refused with the rebuild command.
MIN_BUILDER = 3
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: Corpora with more audio (48 kHz stereo: above 46 minutes) are not read ahead: they
#: would not stay in a Pi's page cache anyway, and reading them would delay a switch.
READ_AHEAD_MAX_BYTES = 512 << 20
_READ_AHEAD_CHUNK = 1 << 20  # bytes per numpy call
_PAGE = 4096

log = logging.getLogger(__name__)


@dataclass
class Corpus:
    """A loaded corpus. Arrays are read-only; ``audio`` is a memory map (int16 (frames, ch))."""

    path: Path
    name: str
    spoken_name: str
    description: str
    sample_rate: int
    channels: int
    duration_s: float
    keyframe_times: np.ndarray
    scenes: list[str]
    segments: list[str]
    loudness_lufs: float
    credits: str
    audio: np.ndarray
    model_sha256: str
    announcement: Path | None
    embeddings: np.ndarray
    scales: np.ndarray
    features: FeatureSpace
    matching: MappingParams
    origins: list[str]
    variants: list[str]
    scene_names: list[str]
    segment_labels: list[str]
    source: dict[str, str] = field(default_factory=dict)
    manifest: dict = field(default_factory=dict, repr=False)
    #: LUFS around each keyframe (builder 2 on; None in older corpora: no level balance).
    keyframe_loudness_lufs: np.ndarray | None = None
    #: float32 (scenes, 1000) ImageNet class support per scene, or (1, 1000): one for the
    #: whole corpus (builder 3 to 5; known.py); None only for hand-made test corpora.
    class_support: np.ndarray | None = None
    #: The class part of the matching space (classpart.py): int16 and uint8 (K, T).
    class_index: np.ndarray | None = None
    class_sqrt: np.ndarray | None = None
    #: The scene part (discriminant.py): float32 axes (D, m) and scene centres (S, m).
    scene_axes: np.ndarray | None = None
    scene_centres: np.ndarray | None = None
    #: The background (background.py, builder 8 on): int8 rows (B, D), float32 scales (B,),
    #: class parts (B, T), place on the scene axes (m,), prior share; None when absent.
    background_embeddings: np.ndarray | None = None
    background_scales: np.ndarray | None = None
    background_class_index: np.ndarray | None = None
    background_class_sqrt: np.ndarray | None = None
    background_centre: np.ndarray | None = None
    background_share: float = 0.0

    @property
    def num_keyframes(self) -> int:
        return len(self.keyframe_times)

    @property
    def frames(self) -> int:
        return int(self.audio.shape[0])

    def keyframe_spans(self) -> np.ndarray:
        """(K, 2) float64: start and end (s) of each keyframe's span."""
        ends = np.append(self.keyframe_times[1:], self.duration_s)
        return np.stack([self.keyframe_times, ends], axis=1)

    def span_seconds(self) -> np.ndarray:
        """(K,) float64: the length (s) of each keyframe's span."""
        return np.diff(np.append(self.keyframe_times, self.duration_s))

    def scene_spans(self) -> list[tuple[str, float, float]]:
        """(scene name, start s, end s) for each scene's stretch, in timeline order (for plots)."""
        spans = self.manifest.get("scene_spans")
        return [(str(n), float(a), float(b)) for n, a, b in spans]

    def read_ahead(self) -> None:
        """Read one byte of every page of the memory-mapped audio, on the calling thread.

        A grain that touches a page not yet read would make the audio thread wait for
        the disk (an SD card: milliseconds); this reads the file into the page cache and
        maps every page before the audio thread sees the corpus. The file is read with
        plain reads first, which let go of the GIL while the disk works: faulting the
        map's pages in from numpy holds it through every disk wait (up to 13 ms at a time
        from a cold NVMe disk here, more from an SD card), and the audio thread, which
        needs the GIL between blocks, would run its 43 ms buffer dry. Mapping the pages
        then costs only minor faults, in 1 MB calls so the audio thread gets the GIL in
        between. Audio over :data:`READ_AHEAD_MAX_BYTES` is left to the disk.
        """
        audio = self.audio
        if audio.nbytes > READ_AHEAD_MAX_BYTES:
            log.info("corpus %s: %d MB of audio is read from disk as it plays", self.name,
                     audio.nbytes >> 20)
            return
        filename = getattr(audio, "filename", None)
        if filename is not None:
            buf = bytearray(_READ_AHEAD_CHUNK)
            with open(filename, "rb", buffering=0) as f:
                while f.readinto(buf):
                    pass
        flat = audio.reshape(-1).view(np.uint8)
        for start in range(0, flat.size, _READ_AHEAD_CHUNK):
            int(flat[start : start + _READ_AHEAD_CHUNK : _PAGE].sum())

    def audio_float32(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Frames ``start:stop`` as float32 stereo (frames, 2) in [-1, 1] (mono duplicated).

        The whole corpus by default: 8 bytes per frame (a 13-minute corpus at
        48 kHz is 300 MB), so prefer slices for long corpora.
        """
        pcm = self.audio[start:stop]
        out = np.empty((pcm.shape[0], 2), dtype=np.float32)
        np.multiply(pcm, np.float32(1.0 / 32767.0), out=out if pcm.shape[1] == 2 else out[:, :1],
                    casting="unsafe")
        if pcm.shape[1] == 1:
            out[:, 1] = out[:, 0]
        np.clip(out, -1.0, 1.0, out=out)
        return out


def crc32(array: np.ndarray) -> int:
    """CRC-32 of an array's bytes (C order)."""
    return zlib.crc32(np.ascontiguousarray(array).view(np.uint8).reshape(-1).data)


def rebuild_hint(path: Path, source: object) -> str:
    if isinstance(source, dict) and isinstance(source.get("path"), str):
        return f"soundscape corpus build {source['path']} -o {path}"
    return f"soundscape corpus build SOURCE -o {path}"


def _load_npy(path: Path, name: str, *, mmap: bool = False) -> np.ndarray:
    """One ``.npy`` file: memory-mapped (the audio) or copied into memory (the small arrays).

    Read through a memory map either way, so a header that declares a shape larger than
    the file is refused before anything is allocated.
    """
    file = path / name
    if not file.is_file():
        raise CorpusError(f"corpus {path}: {name} is missing")
    try:
        with np.errstate(all="raise"):  # a shape whose size overflows: refused, not warned
            arr = np.load(file, mmap_mode="r", allow_pickle=False)
        if not isinstance(arr, np.ndarray):
            raise CorpusError(f"corpus {path}: {name} is not a single array")
        if not mmap:
            if arr.nbytes > MAX_ARRAY_BYTES:
                raise CorpusError(f"corpus {path}: {name} holds {arr.nbytes >> 20} MB, more "
                                  f"than a corpus needs ({MAX_ARRAY_BYTES >> 20} MB at most)")
            arr = np.array(arr)
    except CorpusError:
        raise
    except Exception as exc:  # the header is untrusted: ValueError, TokenError, SyntaxError...
        raise CorpusError(f"corpus {path}: {name} is corrupt ({_why(exc)})") from exc
    return arr


def _why(exc: BaseException) -> str:
    """An exception as a short phrase for a one-line message."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _short(value: object, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters: a message names a bad value, it does
    not reprint a 5,000-digit one."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _expect(cond: bool, path: Path, what: str, fix: str | None = None,
            kind: type[CorpusError] = CorpusDamagedError) -> None:
    if not cond:
        raise kind(f"corpus {path}: {what}", fix=fix)


def _field(m: dict, key: str, kind: type | tuple[type, ...], path: Path) -> object:
    value = m.get(key)
    ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
    _expect(ok, path, f"manifest field {key!r} is missing or has the wrong type")
    return value


def _names(m: dict, key: str, path: Path) -> list[str]:
    value = _field(m, key, list, path)
    _expect(all(isinstance(v, str) for v in value), path, f"{key!r} must be a list of strings")
    return list(value)


def _number(m: dict, key: str, path: Path, lo: float, hi: float) -> float:
    """A finite number field inside ``[lo, hi]``."""
    value = _field(m, key, (int, float), path)
    ok = isinstance(value, float) or abs(value) <= 2**53  # a huge int: no float, no range
    _expect(ok and math.isfinite(float(value)) and lo <= float(value) <= hi, path,
            f"manifest field {key!r} = {str(value)[:30]} is outside {lo:g}..{hi:g}")
    return float(value)


def _numbers(raw: object) -> bool:
    """True for a list of finite numbers (no bools, no ints beyond a float's range)."""
    return isinstance(raw, list) and all(
        (isinstance(x, float) and math.isfinite(x))
        or (isinstance(x, int) and not isinstance(x, bool) and abs(x) <= 2**53) for x in raw)


def load_corpus(path: Path | str, model_sha256: str | None = None) -> Corpus:
    """Open and validate a corpus directory: what loads is known to play.

    With ``model_sha256`` (the appliance's model), a corpus built with any
    other model is refused with the command that rebuilds it. Every problem,
    whatever the files hold, raises :class:`CorpusError` (and nothing else) with
    one line naming the corpus and the problem: this is the one boundary between
    files on disk and the running box (``load_corpora`` skips a corpus it refuses).
    """
    path = Path(path)
    try:
        return _load_corpus(path, model_sha256)
    except CorpusError:
        raise
    except Exception as exc:  # RecursionError, MemoryError, OverflowError...: still damage
        raise CorpusDamagedError(
            f"corpus {path} is damaged ({_why(exc)})",
            fix=f"rebuild with: soundscape corpus build SOURCE -o {path}") from exc


def _read_manifest(path: Path) -> dict:
    mfile = path / MANIFEST
    fix = f"rebuild with: soundscape corpus build SOURCE -o {path}"
    try:
        with open(mfile, "rb") as fh:
            raw = fh.read(MAX_MANIFEST_BYTES + 1)
        if len(raw) > MAX_MANIFEST_BYTES:
            raise CorpusDamagedError(f"corpus {path}: {MANIFEST} is larger than "
                                     f"{MAX_MANIFEST_BYTES >> 20} MB (not a corpus manifest)",
                                     fix=fix)
        m = json.loads(raw.decode("utf-8"))
    except CorpusError:
        raise
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: JSON, UTF-8, 5000 digits
        raise CorpusDamagedError(f"corpus {path}: {MANIFEST} is unreadable ({_why(exc)})",
                                 fix=fix) from exc
    _expect(isinstance(m, dict), path, f"{MANIFEST} is not a JSON object")
    return m


def _load_corpus(path: Path, model_sha256: str | None) -> Corpus:
    mfile = path / MANIFEST
    if not mfile.is_file():
        what = "does not exist" if not path.exists() else f"has no {MANIFEST}"
        raise CorpusMissingError(f"corpus {path} {what}",
                                 fix=f"build one with: soundscape corpus build SOURCE -o {path}")
    m = _read_manifest(path)
    hint = rebuild_hint(path, m.get("source"))
    fmt = m.get("format")
    _expect(fmt == FORMAT, path, f"format {_short(fmt)} is not {FORMAT}",
            fix=f"rebuild with: {hint}", kind=CorpusStaleError)

    build = m.get("build")
    builder = build.get("builder") if isinstance(build, dict) else None
    if not (isinstance(builder, int) and not isinstance(builder, bool)
            and builder >= MIN_BUILDER):
        raise CorpusError(
            f"corpus {path} was built by builder {_short(builder)}, before the appliance could "
            f"tell unknown sights apart (it needs builder {MIN_BUILDER} or later); "
            f"rebuild with: {hint}")

    model = _field(m, "model", dict, path)
    sha = model.get("sha256")
    _expect(isinstance(sha, str) and bool(_HEX64.match(sha)), path, "model sha256 is malformed")
    if model_sha256 is not None and sha != model_sha256:
        raise CorpusStaleError(
            f"corpus {path} was built with model {sha[:12]}…, this appliance uses "
            f"{model_sha256[:12]}…", fix=f"rebuild with: {hint}")
    dim = model.get("output_size")
    _expect(isinstance(dim, int) and not isinstance(dim, bool) and 0 < dim <= 65536, path,
            "model output_size must be a positive integer (at most 65536)")

    name = _field(m, "name", str, path)
    sr = _field(m, "sample_rate", int, path)
    _expect(sr == SAMPLE_RATE, path,
            f"sample_rate {str(sr)[:20]} Hz is not the {SAMPLE_RATE} Hz every corpus is built "
            f"and played at (it would play at the wrong pitch); rebuild with: {hint}")
    ch = _field(m, "channels", int, path)
    frames = _field(m, "frames", int, path)
    _expect(ch in (1, 2) and 0 < frames <= MAX_FRAMES, path,
            f"channels must be 1 or 2 and frames 1..{MAX_FRAMES} (24 h)")
    duration = _number(m, "duration_s", path, 0.0, MAX_FRAMES / SAMPLE_RATE)
    _expect(math.isclose(duration, frames / sr, abs_tol=1e-6), path,
            "duration_s does not match frames / sample_rate")
    loud = _number(m, "loudness_lufs", path, *LOUDNESS_RANGE_LUFS)

    audio = _load_npy(path, AUDIO, mmap=True)
    _expect(audio.dtype == np.int16 and audio.ndim == 2 and audio.shape == (frames, ch)
            and audio.flags.c_contiguous, path,
            f"{AUDIO} should be int16 C-order ({frames}, {ch}), found {audio.dtype} {audio.shape}")

    raw_times = _field(m, "keyframe_times", list, path)
    _expect(len(raw_times) > 0 and _numbers(raw_times), path,
            "keyframe_times must be a non-empty list of finite numbers")
    times = np.asarray(raw_times, dtype=np.float64)
    k = len(times)
    _expect(bool(np.all(np.isfinite(times))) and times[0] == 0.0
            and bool(np.all(np.diff(times) > 0)) and times[-1] < duration, path,
            "keyframe_times must start at 0, increase strictly and stay inside the audio")

    kf_loud = m.get("keyframe_loudness_lufs")
    if kf_loud is not None:
        lo, hi = LOUDNESS_RANGE_LUFS
        _expect(_numbers(kf_loud) and len(kf_loud) == k
                and all(lo <= x <= hi for x in kf_loud), path,
                f"keyframe_loudness_lufs must be {k} numbers in {lo:g}..{hi:g} LUFS, one per "
                "keyframe")
        kf_loud = np.asarray(kf_loud, dtype=np.float64)

    sums = _field(m, "crc32", dict, path)
    emb, scales = _int8_rows(path, EMBEDDINGS, SCALES, k, dim)
    labels = _load_npy(path, LABELS)
    _expect(labels.dtype == np.int32 and labels.shape == (k, 4), path,
            f"{LABELS} should be int32 ({k}, 4)")
    support = _load_npy(path, CLASSES)
    _expect(support.dtype == np.float32 and support.ndim in (1, 2)
            and support.shape[-1] == 1000 and support.size > 0
            and bool(np.all(np.isfinite(support))) and bool(np.all(support >= 0))
            and bool(np.all(support <= 1)), path,
            f"{CLASSES} should be rows of 1000 float32 values in [0, 1]")
    arrays = {EMBEDDINGS: emb, SCALES: scales, LABELS: labels, CLASSES: support}
    feat_desc = m.get("features")
    center = None
    if isinstance(feat_desc, dict) and feat_desc.get("center") is True:
        center = _load_npy(path, MEAN)
        _expect(center.dtype == np.float32 and center.shape == (dim,)
                and bool(np.all(np.isfinite(center))), path, f"{MEAN} should be float32 ({dim},)")
        arrays[MEAN] = center
    features = FeatureSpace.from_description(feat_desc, center, f"corpus {path}")
    class_idx = class_sqrt = None
    if features.classes > 0:
        class_idx, class_sqrt = _class_parts(path, CLASS_INDEX, CLASS_SQRT, k)
        arrays[CLASS_INDEX], arrays[CLASS_SQRT] = class_idx, class_sqrt
    axes = centres = None
    if features.scenes > 0:
        axes = _load_npy(path, SCENE_AXES)
        centres = _load_npy(path, SCENE_CENTRES)
        _expect(axes.dtype == np.float32 and axes.ndim == 2 and axes.shape[0] == dim
                and 1 <= axes.shape[1] <= 64 and bool(np.all(np.isfinite(axes))), path,
                f"{SCENE_AXES} should be float32 ({dim}, m), 1 ≤ m ≤ 64, finite")
        _expect(centres.dtype == np.float32 and centres.ndim == 2
                and centres.shape[1] == axes.shape[1]
                and bool(np.all(np.isfinite(centres))), path,
                f"{SCENE_CENTRES} should be float32 (scenes, {axes.shape[1]}), finite")
        # A frame's place on the axes is |v| ≤ 1 times their size: bound them, so that no
        # file can overflow the distances.
        _expect(float(np.abs(axes).max()) < 1e6 and float(np.abs(centres).max()) < 1e6, path,
                f"{SCENE_AXES} or {SCENE_CENTRES} holds values out of range")
        arrays[SCENE_AXES], arrays[SCENE_CENTRES] = axes, centres
    bg = _background(path, m.get("background"), dim, features, axes)
    arrays.update(bg)
    for fname, arr in arrays.items():
        _expect(sums.get(fname) == crc32(arr), path,
                f"{fname} does not match its checksum (corrupt)", fix=f"rebuild with: {hint}")

    scene_names = _names(m, "scene_names", path)
    segment_labels = _names(m, "segment_labels", path)
    origins = _names(m, "origins", path)
    variants = _names(m, "variants", path)
    for col, names, allow_none in ((0, scene_names, False), (1, segment_labels, True),
                                   (2, origins, False), (3, variants, False)):
        lo = -1 if allow_none else 0
        _expect(bool(np.all((labels[:, col] >= lo) & (labels[:, col] < len(names)))), path,
                f"{LABELS} column {col} indexes outside its name list")
    _expect(centres is None or len(centres) == len(scene_names), path,
            f"{SCENE_CENTRES} should have a row for each of the {len(scene_names)} scenes")
    _expect(support.ndim == 1 or len(support) in (1, len(scene_names)), path,
            f"{CLASSES} should have one row, or a row for each of the {len(scene_names)} "
            "scenes")
    if len(np.atleast_2d(support)) == 1 and len(scene_names) > 1:
        # Builders 3 to 5: it plays by the rule it was built with, and says how to do better.
        log.info("corpus %s has one class envelope for all its scenes (builder %s); rebuild "
                 "it to judge unknown sights by each scene's own pictures: %s", path, builder,
                 hint)
    spans = m.get("scene_spans")
    _expect(isinstance(spans, list) and all(
        isinstance(s, list) and len(s) == 3 and s[0] in scene_names
        and _numbers(s[1:]) for s in spans), path,
        "scene_spans must be [name, start, end] triples")
    starts = [float(a) for _, a, _ in spans]
    ends = [float(b) for _, _, b in spans]
    _expect(len(spans) > 0 and starts[0] == 0.0
            and math.isclose(ends[-1], duration, abs_tol=1e-3)
            and all(a < b for a, b in zip(starts, ends, strict=True))
            and all(math.isclose(b, a, abs_tol=1e-6) for b, a in zip(ends[:-1], starts[1:],
                                                                     strict=True)), path,
            "scene_spans must tile the timeline from 0 to duration_s")

    matching = MappingParams.from_description(m.get("matching"), f"corpus {path}")
    ann = m.get("announcement")
    _expect(ann is None or (isinstance(ann, str) and "/" not in ann), path,
            "announcement must be a file name or null")
    announcement = None
    if ann is not None:
        announcement = path / ann
        _expect(announcement.is_file(), path, f"{ann} is missing", fix=f"rebuild with: {hint}")

    scene_of = [scene_names[i] for i in labels[:, 0]]
    segment_of = [segment_labels[i] if i >= 0 else "" for i in labels[:, 1]]
    extra = tuple(a for a in (kf_loud, class_idx, class_sqrt, axes, centres, *bg.values())
                  if a is not None)
    for arr in (emb, scales, labels, times, support, *extra):
        arr.flags.writeable = False
    return Corpus(
        path=path, name=name,
        spoken_name=str(_field(m, "spoken_name", str, path)),
        description=str(_field(m, "description", str, path)),
        sample_rate=sr, channels=ch, duration_s=duration, keyframe_times=times,
        scenes=scene_of, segments=segment_of, loudness_lufs=loud,
        credits=str(_field(m, "credits", str, path)), audio=audio, model_sha256=sha,
        announcement=announcement, embeddings=emb, scales=scales, features=features,
        matching=matching, origins=[origins[i] for i in labels[:, 2]],
        variants=[variants[i] for i in labels[:, 3]], scene_names=scene_names,
        segment_labels=segment_labels,
        source=m.get("source") if isinstance(m.get("source"), dict) else {}, manifest=m,
        keyframe_loudness_lufs=kf_loud, class_support=np.atleast_2d(support),
        class_index=class_idx,
        class_sqrt=class_sqrt, scene_axes=axes, scene_centres=centres,
        background_embeddings=bg.get(BG_EMBEDDINGS), background_scales=bg.get(BG_SCALES),
        background_class_index=bg.get(BG_CLASS_INDEX),
        background_class_sqrt=bg.get(BG_CLASS_SQRT), background_centre=bg.get(BG_CENTRE),
        background_share=float(m["background"]["share"]) if bg else 0.0,
    )


def _int8_rows(path: Path, rows_name: str, scales_name: str, n: int,
               dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Load and check quantized rows: int8 (n, dim) and their float32 scales (n,)."""
    rows = _load_npy(path, rows_name)
    _expect(rows.dtype == np.int8 and rows.shape == (n, dim), path,
            f"{rows_name} should be int8 ({n}, {dim}), found {rows.dtype} {rows.shape}")
    scales = _load_npy(path, scales_name)
    _expect(scales.dtype == np.float32 and scales.shape == (n,)
            and bool(np.all(np.isfinite(scales))) and bool(np.all(scales > 0))
            and bool(np.all(scales <= MAX_SCALE)), path,
            f"{scales_name} should be {n} float32 scales in (0, {MAX_SCALE:g}]")
    return rows, scales


def _class_parts(path: Path, index_name: str, sqrt_name: str,
                 k: int) -> tuple[np.ndarray, np.ndarray]:
    """Load and check a class part: int16 (k, T) class numbers and uint8 square roots."""
    class_idx = _load_npy(path, index_name)
    class_sqrt = _load_npy(path, sqrt_name)
    _expect(class_idx.dtype == np.int16 and class_idx.ndim == 2
            and class_idx.shape[0] == k and 1 <= class_idx.shape[1] <= 1000
            and bool(np.all((class_idx >= 0) & (class_idx < 1000))), path,
            f"{index_name} should be int16 ({k}, T) class numbers below 1000")
    ok = class_sqrt.dtype == np.uint8 and class_sqrt.shape == class_idx.shape
    if ok:
        rows = class_sqrt.astype(np.float64) / 255.0
        ok = bool(np.all(np.abs((rows**2).sum(axis=1) - 1.0) < 0.05))
    _expect(ok, path, f"{sqrt_name} should be uint8 {class_idx.shape}: square roots × 255 "
            "whose squares sum to 1 per row")
    return class_idx, class_sqrt


def _background(path: Path, desc: object, dim: int, features: FeatureSpace,
                axes: np.ndarray | None) -> dict[str, np.ndarray]:
    """The background's arrays (background.py) by file name; {} when the corpus has none."""
    if desc is None:
        return {}
    _expect(isinstance(desc, dict) and isinstance(desc.get("rows"), int)
            and 0 < desc["rows"] <= MAX_BACKGROUND_ROWS
            and isinstance(desc.get("share"), (int, float))
            and 0.0 < float(desc["share"]) <= 1.0, path,
            f"background must name its rows (1..{MAX_BACKGROUND_ROWS}) and a share in (0, 1]")
    b = int(desc["rows"])
    rows, scales = _int8_rows(path, BG_EMBEDDINGS, BG_SCALES, b, dim)
    out = {BG_EMBEDDINGS: rows, BG_SCALES: scales}
    if features.classes > 0:
        out[BG_CLASS_INDEX], out[BG_CLASS_SQRT] = _class_parts(path, BG_CLASS_INDEX,
                                                               BG_CLASS_SQRT, b)
    if axes is not None:
        centre = _load_npy(path, BG_CENTRE)
        _expect(centre.dtype == np.float32 and centre.shape == (axes.shape[1],)
                and bool(np.all(np.abs(centre) < 1e6)), path,
                f"{BG_CENTRE} should be float32 ({axes.shape[1]},), finite")
        out[BG_CENTRE] = centre
    return out


def save_arrays(directory: Path, arrays: dict[str, np.ndarray]) -> dict[str, int]:
    """Write each array as ``.npy`` (no pickle); return the CRC-32 of each."""
    sums = {}
    for fname, arr in arrays.items():
        np.save(directory / fname, arr, allow_pickle=False)
        if fname != AUDIO:
            sums[fname] = crc32(arr)
    return sums


def write_manifest(directory: Path, manifest: dict) -> None:
    text = json.dumps(manifest, indent=1, ensure_ascii=False, allow_nan=False)
    (directory / MANIFEST).write_text(text + "\n", encoding="utf-8")


_BUILDING, _OLD = ".building-", ".old-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process (or a number we cannot test): leave it
    return True


def remove_stale_builds(out_dir: Path) -> list[Path]:
    """Remove the hidden ``.NAME.building-*`` / ``.NAME.old-*`` folders beside ``out_dir``
    that an interrupted build (``kill -9``, a power cut) left behind; return them.

    A folder is stale when the process that made it (its name carries the pid) is gone;
    a folder without a pid (an older version's) when it is over an hour old.
    """
    removed = []
    out_dir = Path(out_dir)
    try:
        entries = list(out_dir.parent.glob(f".{glob_escape(out_dir.name)}.*"))
    except OSError:
        return removed
    for entry in entries:
        rest = entry.name[len(out_dir.name) + 1:]
        if not (rest.startswith(_BUILDING) or rest.startswith(_OLD)):
            continue
        tag = rest.split("-", 1)[1]
        pid_text = tag.split("-", 1)[0] if "-" in tag else ""
        try:
            if pid_text.isdigit():
                stale = not _pid_alive(int(pid_text))
            else:
                stale = time.time() - entry.lstat().st_mtime > 3600
        except OSError:
            continue
        if stale and entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
            log.info("removed %s, left by an interrupted build", entry)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob's special characters escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


@contextmanager
def building_into(out_dir: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``out_dir``; on success it replaces ``out_dir``.

    On any failure (or Ctrl-C) the temporary directory is removed and
    ``out_dir`` is left as it was: a half-written corpus never appears.
    ``out_dir`` may be missing, empty, or an existing corpus (replaced);
    anything else is refused. Temporary folders left by builds that were
    killed are removed first. A folder that cannot be made (under a file,
    in ``/proc``, no permission) raises :class:`CorpusError`.
    """
    out_dir = Path(out_dir)
    try:
        if out_dir.exists():
            if not out_dir.is_dir():
                raise CorpusError(f"{out_dir} exists and is not a directory; choose another -o")
            if any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
                raise CorpusError(f"{out_dir} exists and is not a corpus; refusing to replace "
                                  "it (choose another -o or remove it)")
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_builds(out_dir)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}{_BUILDING}{os.getpid()}-",
                                    dir=out_dir.parent))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; a corpus is an ordinary folder
    except OSError as exc:
        raise CorpusError(f"cannot build a corpus in {out_dir}: {exc.strerror or exc}; "
                          "choose another -o (a folder you may write)") from exc
    try:
        yield tmp
        old = None
        if out_dir.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}{_OLD}{os.getpid()}-",
                                        dir=out_dir.parent))
            os.replace(out_dir, old / "corpus")
        try:
            os.replace(tmp, out_dir)
        except OSError:
            if old is not None:  # put the previous corpus back
                os.replace(old / "corpus", out_dir)
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CorpusError(f"cannot write the corpus {out_dir}: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
