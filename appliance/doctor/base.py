"""What every check shares: the :class:`Check` line, the installed box's names, and
small helpers (who runs the doctor, folders it may read or write)."""

from __future__ import annotations

import logging
import os
import pwd
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance import MODELS_DIR, PROJECT_ROOT

log = logging.getLogger(__name__)

#: Where scripts/install-pi puts the unit, and the user it runs as.
INSTALLED_UNIT = Path("/etc/systemd/system/soundscape.service")
SERVICE = "soundscape.service"
SERVICE_USER = "soundscape"
#: The file that publishes the model's sha256 (a line ``sha256: <hex>``).
MODEL_README = MODELS_DIR / "README.md"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report.

    ``name``: what was checked ("camera"). ``ok``: no problem. ``detail``:
    what was found, in words. ``fix``: one line saying how to fix it (empty
    when ok). ``fatal``: the appliance cannot run until it is fixed.
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    fatal: bool = False


def ok(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def problem(name: str, detail: str, fix: str, fatal: bool = False) -> Check:
    return Check(name, False, detail, fix, fatal)


def on_installed_box() -> bool:
    return Path("/opt/soundscape") == PROJECT_ROOT or INSTALLED_UNIT.is_file()


def as_service(command: str) -> str:
    """``command`` as the service user would run it (for fix lines on an installed box)."""
    if not on_installed_box():
        return command
    env = " ".join(
        f"{k}={os.environ[k]}"
        for k in ("NUMBA_CACHE_DIR", "SOUNDSCAPE_CACHE", "SOUNDSCAPE_CORPORA")
        if os.environ.get(k)
    )
    return f"sudo -u {SERVICE_USER} env {env} {command}".replace("  ", " ")


def venv_python() -> str:
    return sys.executable or "python3"


def user_name() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def readable_dir(path: Path) -> bool:
    """False when ``path`` exists (or may) but this user may not list it; missing is fine."""
    try:
        path.stat()
    except PermissionError:
        return False
    except OSError:
        return True
    return not path.is_dir() or os.access(path, os.R_OK | os.X_OK)


def writable_dir(path: Path) -> bool:
    """Whether ``path`` is (or, missing, could be created as) a folder this user can write."""
    probe = path
    try:
        while not probe.exists():
            if probe.parent == probe:
                return False
            probe = probe.parent
    except PermissionError:  # a parent this user may not search
        return False
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def guarded(name: str, check: Callable[[], Check | list[Check]]) -> list[Check]:
    """Run one check; a bug in it becomes a (non-fatal) problem, never a crash."""
    try:
        result = check()
    except Exception as exc:  # the doctor must report, not crash
        log.debug("check %s failed", name, exc_info=True)
        return [problem(name, f"the check itself failed ({type(exc).__name__}: {exc})",
                         "report this with the output of: soundscape -v doctor")]
    return result if isinstance(result, list) else [result]
