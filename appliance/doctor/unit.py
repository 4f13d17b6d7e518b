"""The one reader of the installed systemd unit: its settings, drop-ins included.

systemd reads ``NAME.service`` and then ``NAME.service.d/*.conf`` in name order;
for list settings an empty assignment resets what came before. :func:`read_unit`
gives every ``Key=value`` line in that order with its section, :func:`unit_settings`
the same without sections; :func:`unit_groups` and :func:`service_environment` read
the two settings the doctor needs from it.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from appliance.doctor.base import INSTALLED_UNIT

#: systemd's specifiers for a system unit that the doctor expands.
SPECIFIERS = {"%C": "/var/cache", "%S": "/var/lib", "%t": "/run", "%L": "/var/log", "%%": "%"}


def read_unit(unit: Path = INSTALLED_UNIT, drop_ins: bool = True) -> list[tuple[str, str, str]]:
    """``(section, key, value)`` of every assignment in ``unit`` (and, with ``drop_ins``,
    its drop-ins), in systemd's order; unreadable files are skipped, comments ignored."""
    files = [unit, *sorted(Path(f"{unit}.d").glob("*.conf"))] if drop_ins else [unit]
    out: list[tuple[str, str, str]] = []
    for file in files:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        section = ""
        for line in lines:
            text = line.strip()
            if text.startswith("["):
                section = text.strip("[]")
            elif text and not text.startswith(("#", ";")):
                key, _, value = text.partition("=")
                out.append((section, key.strip(), value.strip()))
    return out


def unit_settings(unit: Path = INSTALLED_UNIT) -> list[tuple[str, str]]:
    """``(key, value)`` of every assignment in ``unit`` and its drop-ins (see read_unit)."""
    return [(key, value) for _, key, value in read_unit(unit)]


def unit_groups(unit: Path = INSTALLED_UNIT) -> list[str]:
    """The groups ``SupplementaryGroups=`` names (an empty assignment resets the list)."""
    groups: list[str] = []
    for key, value in unit_settings(unit):
        if key == "SupplementaryGroups":
            groups = groups + value.split() if value else []
    return groups


def service_environment(unit: Path = INSTALLED_UNIT) -> dict[str, str]:
    """The ``Environment=`` assignments of an installed unit, systemd specifiers expanded."""
    env: dict[str, str] = {}
    for key, value in unit_settings(unit):
        if key != "Environment":
            continue
        try:
            words = shlex.split(value)
        except ValueError:
            continue
        for word in words:
            var, eq, val = word.partition("=")
            if eq:
                for spec, real in SPECIFIERS.items():
                    val = val.replace(spec, real)
                env[var] = val
    return env
