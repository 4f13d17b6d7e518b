"""Where the appliance keeps its files: one rule for ``run``, ``doctor`` and ``scripts/*``.

The cache (demo corpora, rendered cues, Numba's compiled kernels) lives in the
first of ``$SOUNDSCAPE_CACHE``, systemd's ``$CACHE_DIRECTORY`` (the service),
``$XDG_CACHE_HOME/soundscape`` and ``~/.cache/soundscape``. Numba's kernels go in
``$NUMBA_CACHE_DIR`` when it is set, else in the cache's ``numba/`` folder.

``python -m appliance.paths cache|numba`` prints a folder, for the shell scripts.
Importing this module imports nothing but the standard library.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def cache_dir() -> Path:
    """The writable cache folder (see the module docstring)."""
    for var in ("SOUNDSCAPE_CACHE", "CACHE_DIRECTORY"):
        if os.environ.get(var):
            return Path(os.environ[var].split(":")[0])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "soundscape"


def numba_cache_dir() -> Path:
    """Where Numba caches the synthesizer's kernels: ``$NUMBA_CACHE_DIR`` or the cache's."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    return Path(env) if env else cache_dir() / "numba"


def use_numba_cache_dir() -> Path:
    """Point Numba at :func:`numba_cache_dir` (before Numba is imported); returns it."""
    folder = numba_cache_dir()
    os.environ.setdefault("NUMBA_CACHE_DIR", str(folder))
    return folder


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    what = {"cache": cache_dir, "numba": numba_cache_dir}
    if len(args) != 1 or args[0] not in what:
        print("usage: python -m appliance.paths cache|numba", file=sys.stderr)
        return 2
    print(what[args[0]]())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
