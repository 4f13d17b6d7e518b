"""Checks of the installation: the configuration, the systemd service, Numba's cache;
and, outside systemd on an installed box, taking on the service's environment."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from appliance import PROJECT_ROOT
from appliance.config import DEFAULT_CONFIG_PATH, Config, load_config
from appliance.doctor.base import (
    INSTALLED_UNIT,
    SERVICE,
    SERVICE_USER,
    Check,
    as_service,
    ok,
    on_installed_box,
    problem,
    user_name,
    venv_python,
    writable_dir,
)
from appliance.doctor.unit import service_environment, unit_groups
from appliance.errors import SoundscapeError
from appliance.paths import numba_cache_dir
from appliance.synth.cache import kernel_cache_state


# ------------------------------------------------------------------ config
def check_config(path: Path | None) -> tuple[Check, Config]:
    """Parse the configuration; a missing *default* file means all defaults (OK)."""
    explicit = path is not None
    where = Path(path) if explicit else DEFAULT_CONFIG_PATH
    if not explicit and not where.exists():
        return (
            ok("configuration", f"{where} does not exist: every setting has its default"),
            Config.default(),
        )
    try:
        config = load_config(where)
    except SoundscapeError as exc:
        return (
            problem(
                "configuration",
                str(exc),
                f"correct {where} (every key is explained in {PROJECT_ROOT}/config.example.toml), "
                "or move it away to use the defaults",
                fatal=True,
            ),
            Config.default(),
        )
    return ok("configuration", f"{where} is valid"), config


# ----------------------------------------------------------------- service
def systemd_running() -> bool:
    """Whether this machine was booted with systemd (and systemctl can talk to it)."""
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def _systemctl(*args: str) -> str:
    try:
        proc = subprocess.run(
            ["systemctl", *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({exc})"
    return proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else ""


def check_service() -> Check:
    """``systemctl is-active soundscape`` when systemd runs here."""
    name = "service"
    if not systemd_running():
        where = "installed" if INSTALLED_UNIT.is_file() else "not installed"
        return ok(name, f"not running under systemd (container or no init); the unit is {where}")
    missing = []
    for group in unit_groups():
        try:
            grp.getgrnam(group)
        except KeyError:
            missing.append(group)
    if missing:
        return problem(
            name,
            f"the unit asks for group(s) {', '.join(missing)}, which do not exist: "
            "the service cannot start",
            "run the installer again (sudo /opt/soundscape/scripts/install-pi), "
            f"or create them: sudo groupadd --system {missing[0]}",
            fatal=True,
        )
    state = _systemctl("is-active", SERVICE)
    enabled = _systemctl("is-enabled", SERVICE)
    if not INSTALLED_UNIT.is_file() and enabled in ("", "not-found"):
        return problem(
            name, f"{SERVICE} is not installed: nothing starts the appliance at boot",
            "install it with: sudo scripts/install-pi (from a copy of the project)",
        )
    boot = "starts at boot" if enabled == "enabled" else f"does NOT start at boot ({enabled})"
    if state == "active":
        return ok(name, f"{SERVICE} is running and {boot}")
    if state in ("activating", "reloading"):
        return ok(name, f"{SERVICE} is starting (a first start compiles for minutes); {boot}")
    fix = (
        "see why with: journalctl -u soundscape -b -n 50; then: "
        "sudo systemctl reset-failed soundscape; sudo systemctl restart soundscape"
        if state == "failed"
        else "start it with: sudo systemctl enable --now soundscape"
    )
    return problem(name, f"{SERVICE} is {state or 'unknown'} and {boot}", fix)


def check_numba_cache() -> Check:
    """Numba's cache folder (see appliance.paths) writable, and whether the synthesizer's
    kernels are cached there."""
    name = "Numba cache"
    root = numba_cache_dir()
    where = f"NUMBA_CACHE_DIR={root}" if os.environ.get("NUMBA_CACHE_DIR") else str(root)
    if not writable_dir(root):
        owner = ""
        if root.exists():
            try:
                owner = f" (owned by {pwd.getpwuid(root.stat().st_uid).pw_name})"
            except KeyError:
                owner = ""
        if user_name() != SERVICE_USER and on_installed_box() and os.getuid() != 0:
            return problem(
                name, f"{where} is not writable by {user_name()}{owner}",
                "check as root, which sees what the service sees: sudo soundscape doctor",
            )
        return problem(
            name,
            f"{where} is not writable{owner}: Numba refuses to start "
            "without a place for its cache",
            f"sudo mkdir -p {root} && sudo chown {user_name()} {root}, "
            "or point NUMBA_CACHE_DIR at a writable folder",
            fatal=True,
        )
    roots = [root]
    results = [kernel_cache_state(r) for r in roots]
    for cached, words in results:
        if cached:
            return ok(name, words + ": the sound starts within seconds")
    words = results[0][1] if results else "the synthesizer's kernels are not cached yet"
    warm = as_service(
        f"{venv_python()} -c 'from appliance.synth import warm_up; warm_up()'"
    )
    return problem(
        name,
        f"{words}: the next start compiles them first (minutes on a Pi 4)",
        f"compile them now: {warm}",
    )


def adopt_service_environment(unit: Path = INSTALLED_UNIT) -> bool:
    """Outside systemd, on an installed box: check the service's caches, not the caller's.

    Sets (without overriding) the unit's ``Environment=`` variables. Returns
    whether anything was adopted.
    """
    if os.environ.get("INVOCATION_ID") or not unit.is_file():
        return False
    adopted = False
    for var, val in service_environment(unit).items():
        if var not in os.environ:
            os.environ[var] = val
            adopted = True
    return adopted
