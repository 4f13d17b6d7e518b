"""Test helper: this process' memory figures from /proc/self/status."""

from __future__ import annotations


def status_bytes(key: str) -> int:
    """A ``kB`` line of /proc/self/status (``"RssAnon"``, ``"RssFile"``, ...) in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} in /proc/self/status")
