"""The model's identity: the sha256 of the ``.tflite`` file, computed from the file itself.

A corpus stores the sha256 of the model its keyframes were embedded with; a
corpus is only valid with that exact model. Hashing ~25 MB takes tens of
milliseconds, so the digest is cached per (path, size, mtime).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from appliance.errors import ModelMissingError

_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def cached_file_sha256(path: Path) -> str:
    """:func:`file_sha256`, remembered while the file's size and mtime are unchanged."""
    path = Path(path).resolve()
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _CACHE:
        _CACHE[key] = file_sha256(path)
    return _CACHE[key]


def model_sha256(path: Path | str) -> str:
    """Hex sha256 of the model file at ``path`` (cached while its size and mtime are unchanged)."""
    try:
        return cached_file_sha256(Path(path))
    except OSError as exc:
        raise ModelMissingError(
            f"model file {path} could not be read ({exc})",
            fix="build it with: python scripts/build_model.py (see models/README.md)",
        ) from exc
