"""The corpus' spoken name, rendered once at build time with espeak-ng (when installed)."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

ANNOUNCE_FILE = "announce.wav"


def render_announcement(text: str, out_dir: Path) -> str | None:
    """Write ``out_dir/announce.wav`` speaking ``text``; return its file name, or None.

    None when espeak-ng is not installed or fails (the live appliance then
    plays an earcon instead); a failure is logged, never raised.
    """
    exe = shutil.which("espeak-ng")
    if exe is None or not text.strip():
        return None
    target = out_dir / ANNOUNCE_FILE
    try:
        subprocess.run([exe, "-w", str(target), text], check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("espeak-ng could not speak %r (%s); the corpus has no announcement", text, exc)
        target.unlink(missing_ok=True)
        return None
    if not target.is_file() or target.stat().st_size <= 44:
        target.unlink(missing_ok=True)
        return None
    return ANNOUNCE_FILE
