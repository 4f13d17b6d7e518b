"""Fault injection for cameras, as gpiozero's mock pins fail on purpose.

:class:`Unplug` is the simulated cameras' own ``fail_after_s`` / ``unplugged_for_s``:
``read`` raises :class:`~appliance.errors.CameraError` that many seconds after
``open`` (once; after ``close()`` and ``open()`` the camera works again) and
``open`` keeps failing for ``unplugged_for_s`` seconds after, as a camera plugged
back in later would.

:class:`FaultyCamera` wraps *any* camera and injects what a driver does on a bad
day: a given exception on chosen reads (a library's own error, not a
CameraError), failing opens, or a stall (reads that return no frame). It ships in
the package so the engine's tests (and a helper at a terminal) can produce every
"camera lost" path without a broken camera.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable

import numpy as np

from appliance.camera.base import Camera
from appliance.errors import CameraError


class Unplug:
    """A simulated unplug: when ``read`` fails and how long ``open`` then fails (seconds)."""

    def __init__(self, fail_after_s: float | None, unplugged_for_s: float) -> None:
        if fail_after_s is not None and fail_after_s < 0:
            raise ValueError(f"fail_after_s must be >= 0 or None, not {fail_after_s}")
        if unplugged_for_s < 0:
            raise ValueError(f"unplugged_for_s must be >= 0, not {unplugged_for_s}")
        self.fail_after_s = fail_after_s
        self.unplugged_for_s = float(unplugged_for_s)
        self.armed = fail_after_s is not None
        self.failed_at: float | None = None  # monotonic time of the unplug
        self.broken = False

    def check_open(self, description: str, now: float) -> None:
        """Raise CameraError while the camera is still unplugged."""
        if self.failed_at is not None:
            left = self.failed_at + self.unplugged_for_s - now
            if left > 0:
                raise CameraError(
                    f"{description} is (simulated) unplugged for another {left:.1f} s; "
                    "try again later"
                )
        self.broken = False

    def fail_at(self, opened_at: float) -> float:
        """monotonic time the next read fails (inf when it never will)."""
        return opened_at + self.fail_after_s if self.armed and self.fail_after_s is not None \
            else math.inf

    def trigger(self, now: float) -> None:
        self.armed = False  # the failure applies once
        self.broken = True
        self.failed_at = now

    def message(self, description: str) -> str:
        return (
            f"{description} stopped delivering frames (simulated unplug "
            f"{self.fail_after_s:g} s after opening); close it and open it again"
        )


class FaultyCamera:
    """``camera`` with faults injected (see the module docstring); thread-safe counters.

    ``read_errors``: exceptions raised by the next reads, one per read, in order
    (``None`` in the list means a normal read). ``open_errors``: how many opens
    fail with CameraError first. ``stall_reads``: reads after the error list that
    return ``None`` (no frame) instead of a frame.
    """

    def __init__(
        self,
        camera: Camera,
        *,
        read_errors: Iterable[BaseException | None] = (),
        open_errors: int = 0,
        stall_reads: int = 0,
    ) -> None:
        self.camera = camera
        self.description = f"{camera.description} (with injected faults)"
        self._read_errors = list(read_errors)
        self._open_errors = int(open_errors)
        self._stall_reads = int(stall_reads)
        self._lock = threading.Lock()
        #: Faults injected so far.
        self.faults = 0

    def open(self) -> None:
        with self._lock:
            if self._open_errors > 0:
                self._open_errors -= 1
                self.faults += 1
                raise CameraError(f"{self.camera.description}: injected open failure")
        self.camera.open()

    def read(self, timeout_s: float = 1.0) -> np.ndarray | None:
        with self._lock:
            if self._read_errors:
                error = self._read_errors.pop(0)
                if error is not None:
                    self.faults += 1
                    raise error
            elif self._stall_reads > 0:
                self._stall_reads -= 1
                self.faults += 1
                return None
        return self.camera.read(timeout_s)

    def close(self) -> None:
        self.camera.close()
