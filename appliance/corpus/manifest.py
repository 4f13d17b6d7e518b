"""Scene manifests: the hand-written TOML that lists scenes, their audio and their photos.

Layout (every path relative to the manifest's own folder; a path that leaves
that folder is refused)::

    format = 1                         # optional; 1 is the only version
    name = "night"                     # optional; default: the file's stem
    spoken_name = "night"              # optional; default: name with _ as spaces
    description = "Crickets, frogs and owls."
    order = 2                          # optional; button order in the demo library
    credits_file = "CREDITS.md"        # optional: copy the rows of this Markdown table
    credits_root = "media"             #   that name a used file (paths relative to this folder)
    credits = "Recorded by me, CC0."   # optional free text (added before those rows)

    [[scene]]
    name = "night"
    description = "..."                # optional
    audio = ["media/night/a.ogg", "media/night/owl/b.ogg"]   # in timeline order
    audio_seconds = 127.2              # optional; a check, warned about when off by > 1 s
    photos = ["media/night/lake.jpg", "media/night/owl/owl.jpg"]

    [[scene.segment]]                  # optional: a sound source within the scene
    label = "owl"
    audio = ["media/night/owl/b.ogg"]  # a contiguous run of the scene's audio list
    photos = ["media/night/owl/owl.jpg"]

Unknown keys are refused (they are usually typos).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from appliance.errors import CorpusError, ImageError
from appliance.tomlcompat import tomllib
from appliance.vision.images import IMAGE_SUFFIXES, image_size

_TOP_KEYS = {"format", "name", "spoken_name", "description", "order", "credits", "credits_file",
             "credits_root", "scene"}
_SCENE_KEYS = {"name", "description", "audio", "audio_seconds", "photos", "segment"}
_SEGMENT_KEYS = {"label", "audio", "audio_seconds", "photos"}
#: A scene manifest is a few kilobytes; anything much larger is not one.
MAX_MANIFEST_BYTES = 4 << 20
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class Segment:
    """A labelled sound source inside a scene: a run of the scene's audio and its photos."""

    label: str
    audio: list[Path]
    photos: list[Path]
    audio_seconds: float | None = None


@dataclass
class Scene:
    """One kind of place: audio files in timeline order and photographs of such places."""

    name: str
    description: str
    audio: list[Path]
    photos: list[Path]
    segments: list[Segment] = field(default_factory=list)
    audio_seconds: float | None = None

    def segment_of(self, path: Path) -> str:
        """The label of the segment a file (audio or photo) belongs to, "" for none."""
        for seg in self.segments:
            if path in seg.audio or path in seg.photos:
                return seg.label
        return ""


@dataclass
class SceneManifest:
    """A parsed, checked scene manifest; every path absolute and inside ``root``."""

    path: Path
    root: Path
    name: str
    spoken_name: str
    description: str
    order: int | None
    credits: str
    scenes: list[Scene]
    credits_file: Path | None = None

    def files(self) -> list[Path]:
        """Every source file used (audio then photos, each once, in manifest order)."""
        seen: dict[Path, None] = {}
        for scene in self.scenes:
            for p in scene.audio + scene.photos:
                seen.setdefault(p, None)
            for seg in scene.segments:
                for p in seg.audio + seg.photos:
                    seen.setdefault(p, None)
        return list(seen)


def _fail(path: Path, what: str) -> CorpusError:
    return CorpusError(f"scene manifest {path}: {what}")


def _str(path: Path, where: str, value: object, key: str, required: bool = False) -> str:
    if value is None:
        if required:
            raise _fail(path, f"{where} needs a {key!r} (a string)")
        return ""
    if not isinstance(value, str):
        raise _fail(path, f"{where}: {key!r} must be a string, not {type(value).__name__}")
    return value


def _check_keys(path: Path, where: str, table: dict, allowed: set[str]) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(path, f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                          f"allowed: {', '.join(sorted(allowed))}")


def resolve_inside(root: Path, rel: object, manifest: Path, where: str) -> Path:
    """``root / rel`` resolved; refused when absolute or when it leaves ``root``."""
    if not isinstance(rel, str) or not rel or "\0" in rel or len(rel) > 4096:
        raise _fail(manifest, f"{where}: paths must be non-empty strings, got {repr(rel)[:80]}")
    if Path(rel).is_absolute() or re.match(r"^[A-Za-z]:[\\/]", rel):
        raise _fail(manifest, f"{where}: {rel!r} is absolute; write paths relative to {root}")
    full = (root / rel).resolve()
    if not full.is_relative_to(root):
        raise _fail(manifest, f"{where}: {rel!r} leaves the manifest's folder {root}; "
                              "keep the media beside or below the manifest")
    return full


def _paths(path: Path, root: Path, where: str, value: object, key: str, *,
           images: bool, required: bool = True) -> list[Path]:
    if value is None:
        if required:
            raise _fail(path, f"{where} needs {key!r}, a list of file paths")
        return []
    if not isinstance(value, list):
        raise _fail(path, f"{where}: {key!r} must be a list of file paths")
    out: list[Path] = []
    for rel in value:
        full = resolve_inside(root, rel, path, f"{where} {key}")
        if full in out:
            raise _fail(path, f"{where}: {rel!r} is listed twice in {key!r}")
        if not full.is_file():
            raise _fail(path, f"{where}: {key} file {rel!r} not found (looked for {full})")
        if images and full.suffix.lower() not in IMAGE_SUFFIXES:
            raise _fail(path, f"{where}: {rel!r} is not a photo ({', '.join(IMAGE_SUFFIXES)})")
        if images:
            try:
                image_size(full)  # the header only: format and pixel limit, before any decoding
            except ImageError as exc:
                raise _fail(path, f"{where}: {exc}") from exc
        out.append(full)
    if required and not out:
        raise _fail(path, f"{where}: {key!r} is empty")
    return out


def _seconds(path: Path, where: str, value: object) -> float | None:
    if value is None:
        return None
    ok = isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool)
                                      and value < 10**9)
    if not ok or not (0 < float(value) < 1e9):  # NaN and infinity fail here too
        raise _fail(path, f"{where}: 'audio_seconds' must be a positive number of seconds, "
                          f"not {str(value)[:30]}")
    return float(value)


def _segment(path: Path, root: Path, scene: Scene, raw: object, i: int) -> Segment:
    where = f"scene {scene.name!r} segment {i + 1}"
    if not isinstance(raw, dict):
        raise _fail(path, f"{where} must be a table ([[scene.segment]])")
    _check_keys(path, where, raw, _SEGMENT_KEYS)
    label = _str(path, where, raw.get("label"), "label", required=True)
    if not NAME_RE.match(label):
        raise _fail(path, f"{where}: label {label!r} must be letters, digits, _ . - (no spaces)")
    where = f"scene {scene.name!r} segment {label!r}"
    audio = _paths(path, root, where, raw.get("audio"), "audio", images=False)
    photos = _paths(path, root, where, raw.get("photos"), "photos", images=True)
    for a in audio:
        if a not in scene.audio:
            raise _fail(path, f"{where}: audio {a.relative_to(root)} is not in the scene's "
                              "audio list; list it there too, where it should play")
    idx = sorted(scene.audio.index(a) for a in audio)
    if idx != list(range(idx[0], idx[0] + len(idx))):
        raise _fail(path, f"{where}: its audio files must be one contiguous run of the scene's "
                          "audio list; reorder the scene's audio")
    return Segment(label, audio, photos, _seconds(path, where, raw.get("audio_seconds")))


def _scene(path: Path, root: Path, raw: object, i: int) -> Scene:
    where = f"scene {i + 1}"
    if not isinstance(raw, dict):
        raise _fail(path, f"{where} must be a table ([[scene]])")
    _check_keys(path, where, raw, _SCENE_KEYS)
    name = _str(path, where, raw.get("name"), "name", required=True)
    if not NAME_RE.match(name):
        raise _fail(path, f"{where}: name {name!r} must be letters, digits, _ . - (no spaces)")
    where = f"scene {name!r}"
    scene = Scene(
        name=name,
        description=_str(path, where, raw.get("description"), "description"),
        audio=_paths(path, root, where, raw.get("audio"), "audio", images=False),
        photos=_paths(path, root, where, raw.get("photos"), "photos", images=True,
                      required=False),
        audio_seconds=_seconds(path, where, raw.get("audio_seconds")),
    )
    raw_segments = raw.get("segment", [])
    if not isinstance(raw_segments, list):
        raise _fail(path, f"{where}: 'segment' must be written as [[scene.segment]] tables")
    for j, rs in enumerate(raw_segments):
        seg = _segment(path, root, scene, rs, j)
        for other in scene.segments:
            if other.label == seg.label:
                raise _fail(path, f"{where}: two segments are labelled {seg.label!r}")
            if set(other.audio) & set(seg.audio):
                raise _fail(path, f"{where}: segments {other.label!r} and {seg.label!r} "
                                  "share audio")
            if set(other.photos) & set(seg.photos):
                raise _fail(path, f"{where}: segments {other.label!r} and {seg.label!r} share "
                                  "a photo")
        scene.segments.append(seg)
    return scene


def read_credits_rows(credits_file: Path, credits_root: Path, used: list[Path],
                      manifest: Path) -> str:
    """The rows of a Markdown credits table (first column: a path) for the files in ``used``.

    Every used file must have a row; a missing one is an error (the media's
    licences must travel with the corpus).
    """
    try:
        if not credits_file.is_file():
            raise OSError("not found, or not a regular file")
        text = credits_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(manifest, f"credits_file {credits_file} could not be read: {exc}") from exc
    rows: dict[Path, list[str]] = {}
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|") or set(line.replace("|", "").strip()) <= set("-: "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
            continue
        rows[(credits_root / cells[0]).resolve()] = cells
    lines = []
    missing = []
    for p in used:
        cells = rows.get(p)
        if cells is None:
            missing.append(str(p.relative_to(credits_root)) if p.is_relative_to(credits_root)
                           else str(p))
            continue
        named = dict(zip(header or [], cells, strict=False))
        author = named.get("author", "")
        licence = named.get("licence", named.get("license", ""))
        source = named.get("source package (registry: name version)", "")
        lines.append(f"{cells[0]}: {author}; {licence}" + (f"; from {source}" if source else ""))
    if missing:
        raise _fail(manifest, f"{credits_file.name} has no row for {', '.join(missing)}; "
                              "add one (file, source, author, licence) before building")
    return "\n".join(lines)


def read_scene_manifest(path: Path) -> SceneManifest:
    """Parse and check a scene manifest (see the module docstring for the layout)."""
    path = Path(path)
    try:
        if not path.is_file():  # a FIFO or a device would block the read
            raise FileNotFoundError(path) if not path.exists() else OSError("not a regular file")
        with open(path, "rb") as fh:
            text = fh.read(MAX_MANIFEST_BYTES + 1)
        if len(text) > MAX_MANIFEST_BYTES:
            raise OSError(f"larger than {MAX_MANIFEST_BYTES >> 20} MB")
        raw = tomllib.loads(text.decode("utf-8"))
    except FileNotFoundError as exc:
        raise CorpusError(f"scene manifest {path} not found") from exc
    except RecursionError as exc:
        raise CorpusError(f"scene manifest {path} nests tables or lists too deeply") from exc
    except (OSError, ValueError) as exc:  # ValueError: TOML, UTF-8, an integer of 5000 digits
        raise CorpusError(f"scene manifest {path} is not valid TOML: "
                          f"{str(exc).splitlines()[0][:200]}") from exc
    root = path.resolve().parent
    _check_keys(path, "top level", raw, _TOP_KEYS)
    fmt = raw.get("format", 1)
    if fmt != 1:
        raise _fail(path, f"format {fmt!r} is not supported (only 1)")
    name = _str(path, "top level", raw.get("name"), "name") or path.stem
    if not NAME_RE.match(name):
        raise _fail(path, f"name {name!r} must be letters, digits, _ . - (no spaces)")
    spoken = _str(path, "top level", raw.get("spoken_name"), "spoken_name")
    order = raw.get("order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int)):
        raise _fail(path, "'order' must be an integer")
    raw_scenes = raw.get("scene")
    if not isinstance(raw_scenes, list) or not raw_scenes:
        raise _fail(path, "no scenes: add at least one [[scene]] table with audio and photos")
    scenes = [_scene(path, root, rs, i) for i, rs in enumerate(raw_scenes)]
    names = [s.name for s in scenes]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _fail(path, f"scene name(s) {', '.join(dup)} used twice; give each scene one table")
    manifest = SceneManifest(
        path=path.resolve(), root=root, name=name,
        spoken_name=spoken or name.replace("_", " ").replace("-", " "),
        description=_str(path, "top level", raw.get("description"), "description"),
        order=order, credits="", scenes=scenes,
    )
    credits = _str(path, "top level", raw.get("credits"), "credits").strip()
    credits_file = raw.get("credits_file")
    if credits_file is not None:
        cfile = resolve_inside(root, credits_file, path, "credits_file")
        croot_rel = _str(path, "top level", raw.get("credits_root"), "credits_root") or "."
        croot = resolve_inside(root, croot_rel, path, "credits_root")
        rows = read_credits_rows(cfile, croot, manifest.files(), path)
        pointer = f"Sources and licences (from {cfile.name}; paths relative to its media folder):"
        credits = "\n".join(x for x in (credits, pointer, rows) if x)
        manifest.credits_file = cfile
    elif raw.get("credits_root") is not None:
        raise _fail(path, "'credits_root' needs 'credits_file'")
    manifest.credits = credits
    return manifest
