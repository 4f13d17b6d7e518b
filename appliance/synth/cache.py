"""Where Numba caches this package's kernels, and whether the render kernel is cached.

Numba names the folder after the source folder (``<parent name>_<sha1 of its path>``)
and each kernel's files ``<module>.<qualname>-<line>.pyXY.nbi`` (index) and
``....pyXY.<n>.nbc`` (one per build). Reads no pickle.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

#: More builds of the render kernel than this in the cache means Numba misses it.
PILED_UP_BUILDS = 8


def synth_cache_subdir() -> str:
    """The folder Numba caches the synthesizer's kernels in, below ``NUMBA_CACHE_DIR``.

    Numba names it after the source folder: ``<parent name>_<sha1 of its path>``.
    """
    import hashlib

    import appliance.synth

    source = str(Path(appliance.synth.__file__).resolve().parent)
    return f"{Path(source).name}_{hashlib.sha1(source.encode()).hexdigest()}"


def kernel_cache_state(cache_root: Path) -> tuple[bool, str]:
    """(cached, words) for the synth's render kernel below ``cache_root``.

    Reads no pickle: the Numba version is looked up in the index file's
    header, and freshness is judged by modification times.
    """
    import appliance.synth

    folder = cache_root / synth_cache_subdir()
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    try:
        indexes = sorted(folder.glob(f"engine*render_block*.{tag}.nbi"))
    except PermissionError:
        return False, f"{folder} cannot be read by this user"
    if not indexes:
        return False, f"the synthesizer's kernels are not cached in {cache_root}"
    index = indexes[-1]
    try:
        head = index.read_bytes()[:64]
        mtime = index.stat().st_mtime
    except OSError as exc:
        return False, f"{index} cannot be read ({exc.strerror or exc})"
    try:
        numba_version = importlib.metadata.version("numba")
    except importlib.metadata.PackageNotFoundError:
        numba_version = ""
    if numba_version and numba_version.encode() not in head:
        return False, (
            f"the cached kernels were compiled by another Numba version (now {numba_version})"
        )
    sources = Path(appliance.synth.__file__).resolve().parent.glob("*.py")
    newest = max((p.stat().st_mtime for p in sources), default=0.0)
    if newest > mtime:
        return False, "the cached kernels are older than the synthesizer's source"
    data = list(folder.glob(f"engine*render_block*.{tag}.*.nbc"))
    if not data:
        return False, f"the kernel index in {cache_root} has no compiled data"
    if len(data) > PILED_UP_BUILDS:
        # Numba adds a build at every cache miss: a pile means it misses at every start.
        return False, (
            f"{folder} holds {len(data)} builds of the render kernel: it is probably "
            "compiled again at every start (a Numba cache miss)"
        )
    return True, f"kernels cached in {cache_root} (numba {numba_version})"
