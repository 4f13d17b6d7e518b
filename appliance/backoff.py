"""One backoff rule for every device the box retries (sound card, camera).

A :class:`Backoff` hands out the delay before the next try, in seconds: ``first_s``
after the first failure, doubling after each further one, never more than
``max_s``; :meth:`reset` after a success starts again from ``first_s``.
"""

from __future__ import annotations


class Backoff:
    """Doubling delays (seconds) from ``first_s`` up to ``max_s``."""

    def __init__(self, first_s: float, max_s: float) -> None:
        if not 0 < first_s <= max_s:
            raise ValueError(f"need 0 < first_s <= max_s, not {first_s} and {max_s}")
        self.first_s = float(first_s)
        self.max_s = float(max_s)
        #: Failures since the last :meth:`reset`.
        self.failures = 0

    def delay_after(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures in a row (``failures`` >= 1)."""
        return min(self.max_s, self.first_s * 2.0 ** (max(failures, 1) - 1))

    def next(self) -> float:
        """Count one more failure and return the seconds to wait before the next try."""
        self.failures += 1
        return self.delay_after(self.failures)

    def reset(self) -> None:
        """A success: the next failure waits ``first_s`` again."""
        self.failures = 0
