"""Benchmarks: each section measures the product beside a reference in one run.

A section is a module here with ``run(quick: bool) -> dict[str, float | int | str]``;
``python -m appliance.bench`` (``scripts/bench``) runs them all, prints
human-readable lines on the way and one JSON object with every figure on its
last line.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def time_it(fn: Callable[[], object], repeat: int, warmup: int = 2) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` times; return seconds per call."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def say(line: str) -> None:
    print(line, flush=True)


def memory_bytes(key: str) -> int:
    """A ``kB`` figure of this process from /proc/self/status, in bytes: ``"VmRSS"`` (all
    resident memory), ``"RssAnon"`` (heap: what a leak grows), ``"RssFile"`` (mapped
    files, such as corpus audio, which the kernel can drop)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
    raise KeyError(f"no {key} in /proc/self/status")
