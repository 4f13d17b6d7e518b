"""Contact-bounce filtering done by the application (gpiozero's mock pins ignore ``bounce_time``).

A mechanical button does not switch cleanly: for a few milliseconds after it
is pressed or released its contact chatters, producing a burst of edges.
:class:`EdgeFilter` drops every edge that follows the previous edge on the
same pin by less than the debounce interval, so a burst counts once (its
first edge), with no added latency.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class EdgeFilter:
    """Decide, edge by edge, which edges of one pin are real.

    ``interval_s`` is the debounce interval (s; 0 = accept every edge);
    ``clock`` returns the current time (s), ``time.monotonic`` by default and
    injectable for tests. Thread-safe.
    """

    def __init__(self, interval_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if interval_s < 0:
            raise ValueError(f"debounce interval must be >= 0 s, not {interval_s}")
        self.interval_s = float(interval_s)
        self._clock = clock
        self._last_edge: float | None = None
        self._lock = threading.Lock()

    def accept(self) -> bool:
        """Record an edge now; True if it is at least ``interval_s`` after the previous edge.

        Every edge, accepted or not, restarts the interval: a burst of chatter
        is suppressed however long it lasts, as long as its edges are closer
        together than ``interval_s``.
        """
        now = self._clock()
        with self._lock:
            last, self._last_edge = self._last_edge, now
        return last is None or now - last >= self.interval_s
