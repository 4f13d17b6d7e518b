"""The corpus library: the demo corpora by name, built on first use and kept fresh.

The demo corpora are the theme manifests ``corpora/*.toml`` (button order:
their ``order`` key, then name). They are built into a cache directory on
first use and rebuilt whenever the model's sha256, the builder version or any
source file (manifest, credits, media: by content) changes; the source
fingerprint and the model's sha256 are in each corpus' manifest.

Where things live:

- demo corpora: ``$SOUNDSCAPE_CACHE/corpora`` when set, else systemd's
  ``$CACHE_DIRECTORY/corpora``, else ``$XDG_CACHE_HOME/soundscape/corpora``,
  else ``~/.cache/soundscape/corpora``;
- a user's own corpora: the sub-directories of ``$SOUNDSCAPE_CORPORA`` (by
  directory name), when set.

Concurrent processes are serialized by a lock file in the cache directory.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appliance import CORPORA_DIR
from appliance.corpus.builder import (
    AudioCache,
    EmbedCache,
    build_corpus,
    manifest_files,
    source_fingerprint,
)
from appliance.corpus.fileformat import MANIFEST
from appliance.corpus.manifest import NAME_RE, read_scene_manifest
from appliance.corpus.model_id import model_sha256
from appliance.corpus.progress import ProgressLine
from appliance.errors import CorpusError, CorpusMissingError
from appliance.tomlcompat import tomllib

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where the demo corpora are built (see the module docstring)."""
    from appliance.paths import cache_dir as root

    return root() / "corpora"


def user_dir() -> Path | None:
    """``$SOUNDSCAPE_CORPORA``, a folder of the user's own corpora, or None."""
    value = os.environ.get("SOUNDSCAPE_CORPORA")
    return Path(value) if value else None


def demo_manifests(root: Path = CORPORA_DIR) -> dict[str, Path]:
    """Name → theme manifest, in button order (``order`` key, then name)."""
    found = []
    for path in sorted(root.glob("*.toml")):
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise CorpusError(f"demo manifest {path} is not valid TOML: {exc}") from exc
        name = raw.get("name") if isinstance(raw.get("name"), str) else path.stem
        if not NAME_RE.match(name):
            raise CorpusError(f"demo manifest {path}: name {name!r} must be letters, digits, "
                              "_ . - (no spaces)")
        order = raw.get("order") if isinstance(raw.get("order"), int) else 10**6
        found.append((order, name, path))
    return {name: path for _, name, path in sorted(found)}


def library() -> dict[str, Path]:
    """Every corpus known by name: the demo corpora (button order; their cache directories,
    which may not be built yet), then the user's corpora in ``$SOUNDSCAPE_CORPORA``."""
    out = {name: cache_dir() / name for name in demo_manifests()}
    users = user_dir()
    if users is not None and users.is_dir():
        for d in sorted(users.iterdir()):
            if (d / MANIFEST).is_file():
                if d.name in out:
                    log.warning("%s is shadowed by the demo corpus of the same name", d)
                    continue
                out[d.name] = d
    return out


def is_fresh(corpus_dir: Path, manifest: Path, model_sha: str) -> bool:
    """True when ``corpus_dir`` was built from ``manifest``'s current sources with this model."""
    try:
        m = json.loads((corpus_dir / MANIFEST).read_text(encoding="utf-8"))
        built_with = m["model"]["sha256"]
        fingerprint = m["source"]["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if built_with != model_sha:
        return False
    return fingerprint == source_fingerprint(manifest_files(read_scene_manifest(manifest)))


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_demo_corpora(embedder, names: list[str] | None = None, quiet: bool = False,
                        root: Path = CORPORA_DIR) -> list[Path]:
    """Build the demo corpora that are missing or stale; return their directories in button order.

    ``names`` limits the work to some of them. A progress line goes to stderr
    for each build (unless ``quiet``).
    """
    manifests = demo_manifests(root)
    if names is not None:
        unknown = sorted(set(names) - set(manifests))
        if unknown:
            raise CorpusError(f"no demo corpus named {', '.join(unknown)}; "
                              f"the demo corpora are {', '.join(manifests)}")
        manifests = {n: p for n, p in manifests.items() if n in names}
    sha = model_sha256(embedder.model_path)
    target = cache_dir()
    cache: EmbedCache = {}
    audio: AudioCache = {}
    out = []
    with _locked(target):
        for name, manifest in manifests.items():
            corpus_dir = target / name
            if not is_fresh(corpus_dir, manifest, sha):
                t0 = time.perf_counter()
                line = ProgressLine(f"building corpus {name!r}: ") if not quiet else None
                try:
                    build_corpus(manifest, corpus_dir, embedder, progress=line,
                                 embed_cache=cache, audio_cache=audio)
                finally:
                    if line is not None:
                        line.close()
                log.info("built demo corpus %s in %.1f s", name, time.perf_counter() - t0)
            out.append(corpus_dir)
    return out


def resolve_corpus(name_or_dir: str, embedder=None) -> Path:
    """A corpus directory from a path or a library name.

    A demo corpus named here is built (or rebuilt when stale) when
    ``embedder`` is given; without it the cache directory is returned as is.
    """
    path = Path(name_or_dir)
    if (path / MANIFEST).is_file():
        return path
    known = library()
    if name_or_dir in known:
        if embedder is not None and name_or_dir in demo_manifests():
            return ensure_demo_corpora(embedder, [name_or_dir])[0]
        return known[name_or_dir]
    if path.exists():
        raise CorpusMissingError(f"{path} is not a corpus (no {MANIFEST})",
                                 fix=f"build one with: soundscape corpus build SOURCE -o {path}")
    raise CorpusError(f"no corpus {name_or_dir!r}: give a corpus directory or one of "
                      f"{', '.join(known) or '(none)'}")
