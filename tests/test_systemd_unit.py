"""The boot unit, checked offline: directives, ``systemd-analyze verify`` and ``security``."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from appliance import PROJECT_ROOT
from appliance.doctor.unit import read_unit

UNIT = PROJECT_ROOT / "systemd" / "soundscape.service"
EXEC_START = "/opt/soundscape/.venv/bin/soundscape run --config /etc/soundscape/config.toml"
MAX_EXPOSURE = 5.0

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (apt install systemd)",
)


def directives(path: Path = UNIT) -> dict[str, list[str]]:
    """``Key`` → every value assigned to it (the doctor's own unit reader)."""
    out: dict[str, list[str]] = {}
    for _, key, value in read_unit(path, drop_ins=False):
        out.setdefault(key, []).append(value)
    return out


def sections(path: Path = UNIT) -> dict[str, set[str]]:
    """Section name → the keys set in it."""
    out: dict[str, set[str]] = {}
    for section, key, _ in read_unit(path, drop_ins=False):
        out.setdefault(section, set()).add(key)
    return out


def seconds(value: str) -> float:
    """A systemd time span (``30s``, ``15min``, ``1h 5s``, ``90``) in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "ms": 0.001}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total


def standin_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at a binary that exists here (same file name)."""
    text = UNIT.read_text()
    assert f"ExecStart={EXEC_START}\n" in text
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(f"ExecStart={EXEC_START}", f"ExecStart={shutil.which('true')}"))
    return copy


# ---------------------------------------------------------------- content
def test_exec_start_is_the_installed_command() -> None:
    assert directives()["ExecStart"] == [EXEC_START]


def test_notify_watchdog_and_restart_policy() -> None:
    d = directives()
    assert d["Type"] == ["notify"]
    assert d["NotifyAccess"] == ["main"]
    assert d["Restart"] == ["on-failure"]
    watchdog = seconds(d["WatchdogSec"][0])
    # Engine.healthy() tolerates 10 s without a vision heartbeat; the watchdog
    # (fed every WatchdogSec/2) must not fire before that.
    assert 20 <= watchdog <= 120
    assert seconds(d["TimeoutStartSec"][0]) >= 10 * 60  # a cold Numba compile on a Pi 4
    assert seconds(d["RestartSec"][0]) >= 5
    unit_keys = sections()["Unit"]
    assert {"StartLimitIntervalSec", "StartLimitBurst"} <= unit_keys  # [Unit], not [Service]
    assert int(d["StartLimitBurst"][0]) <= 10


def test_user_groups_directories_and_environment() -> None:
    d = directives()
    assert d["User"] == ["soundscape"]
    assert d["SupplementaryGroups"] == ["audio video gpio"]
    assert d["CacheDirectory"] == ["soundscape"]
    assert d["StateDirectory"] == ["soundscape"]
    env = dict(v.split("=", 1) for v in d["Environment"])
    assert env["NUMBA_CACHE_DIR"] == "%C/soundscape/numba"
    assert env["SOUNDSCAPE_CACHE"] == "%C/soundscape"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert int(d["LimitRTPRIO"][0]) >= 20  # Engine asks SCHED_FIFO priority 20
    assert d["WantedBy"] == ["multi-user.target"]


def test_hardening_that_keeps_numba_alsa_camera_and_gpio_working() -> None:
    d = directives()
    for key, value in {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectControlGroups": "yes",
        "RestrictNamespaces": "yes",
        "LockPersonality": "yes",
        "SystemCallArchitectures": "native",
        "UMask": "0077",
        "ProtectProc": "invisible",
    }.items():
        assert d.get(key) == [value], key
    assert d["CapabilityBoundingSet"] == [""]
    assert "@system-service" in d["SystemCallFilter"]
    # Numba needs executable memory, the audio thread SCHED_FIFO, ALSA/V4L2/GPIO /dev.
    for forbidden in ("MemoryDenyWriteExecute", "RestrictRealtime", "PrivateDevices",
                      "ProcSubset", "DevicePolicy", "PrivateUsers"):
        assert forbidden not in d, forbidden
    families = d["RestrictAddressFamilies"][0].split()
    assert {"AF_UNIX", "AF_NETLINK", "AF_INET", "AF_INET6"} == set(families)


# ---------------------------------------------------------- systemd-analyze
@needs_analyze
def test_systemd_analyze_verify_prints_nothing(tmp_path: Path) -> None:
    copy = standin_copy(tmp_path)
    proc = subprocess.run(["systemd-analyze", "verify", str(copy)],
                          capture_output=True, text=True, timeout=60)
    # verify exits 0 on unknown keys and typos: the output is what matters.
    assert proc.stdout + proc.stderr == ""
    assert proc.returncode == 0


def exposure(unit: Path) -> tuple[float, str]:
    proc = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                          capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+:\s*([0-9.]+)", proc.stdout)
    assert match, proc.stdout + proc.stderr
    return float(match.group(1)), proc.stdout


@needs_analyze
def test_systemd_analyze_security_exposure(tmp_path: Path) -> None:
    level, report = exposure(standin_copy(tmp_path))
    print(f"systemd-analyze security --offline=yes: overall exposure {level}")
    assert level <= MAX_EXPOSURE, report


@needs_analyze
def test_system_service_filter_allows_what_numba_and_the_audio_thread_need() -> None:
    proc = subprocess.run(["systemd-analyze", "syscall-filter", "@system-service"],
                          capture_output=True, text=True, timeout=60)
    listed = set(proc.stdout.split())
    groups = {g for g in listed if g.startswith("@")}
    for group in sorted(groups):
        more = subprocess.run(["systemd-analyze", "syscall-filter", group],
                              capture_output=True, text=True, timeout=60)
        listed |= set(more.stdout.split())
    for call in ("sched_setscheduler", "mmap", "mprotect", "ioctl", "clone", "futex"):
        assert call in listed, call
