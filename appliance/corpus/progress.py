"""A progress line on stderr for long builds (standard library only).

On a terminal the line redraws in place (``\\r``); when stderr is a file or a
pipe (CI logs) it prints a plain line at most every ``every_s`` seconds and at
the end, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

#: ``progress(stage, done, total)``: ``stage`` names the work ("embedding photos"),
#: ``done`` of ``total`` units are finished.
Progress = Callable[[str, int, int], None]


class ProgressLine:
    """Callable :data:`Progress` that draws ``label stage [#####-----] done/total``."""

    def __init__(self, label: str = "", stream: TextIO | None = None, every_s: float = 5.0) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.every_s = every_s
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last = 0.0
        self._open = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        finished = total > 0 and done >= total
        if not self._tty and not finished and now - self._last < self.every_s:
            return
        self._last = now
        width = 24
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "-" * (width - filled)
        text = f"{self.label}{stage} [{bar}] {done}/{total}"
        if self._tty:
            self.stream.write("\r" + text + "\x1b[K")
            self._open = not finished
            if finished:
                self.stream.write("\n")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End a line left open (a build that failed half-way)."""
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False


def no_progress(stage: str, done: int, total: int) -> None:
    """The silent :data:`Progress`."""
