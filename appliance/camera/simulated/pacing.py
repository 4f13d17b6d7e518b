"""Real-time pacing for cameras whose picture is a function of time.

:class:`PacedCamera` turns ``frame_at(t_s)`` (seconds from :meth:`open`) into the
``Camera`` protocol's ``read``: it paces itself on :func:`time.monotonic`, at most
``max_fps`` frames per second and one frame per call, and carries the simulated
unplug of :class:`~appliance.camera.simulated.faults.Unplug`.
"""

from __future__ import annotations

import time

import numpy as np

from appliance.camera.simulated.faults import Unplug
from appliance.errors import CameraError


class PacedCamera:
    """Real-time pacing (and a simulated unplug) shared by the simulated cameras.

    Subclasses set ``description`` and implement ``frame_at``, ``label_at``,
    ``_prepare`` (check files on open; raise :class:`CameraError`) and
    ``_release`` (free decoders on close).
    """

    description: str

    def __init__(
        self,
        *,
        max_fps: float,
        fail_after_s: float | None,
        unplugged_for_s: float,
    ) -> None:
        if not max_fps > 0:
            raise ValueError(f"max_fps must be positive, not {max_fps}")
        self._unplug = Unplug(fail_after_s, unplugged_for_s)
        self.max_fps = float(max_fps)
        self.fail_after_s = fail_after_s
        self.unplugged_for_s = float(unplugged_for_s)
        #: Frames returned by :meth:`read` since the camera was made.
        self.frames_read = 0
        self._opened_at: float | None = None  # time.monotonic() at open()
        self._next_due = 0.0  # monotonic time the next frame may be delivered

    # -- the Camera protocol ------------------------------------------------------------------

    def open(self) -> None:
        """Start the camera's clock (``t_s = 0`` now). Harmless when already open.

        Raises :class:`CameraError` when a file is missing or unreadable, or
        while a simulated unplug lasts (``unplugged_for_s``).
        """
        if self._opened_at is not None:
            return
        now = time.monotonic()
        self._unplug.check_open(self.description, now)
        self._prepare()
        self._opened_at = now
        self._next_due = now

    def read(self, timeout_s: float = 1.0) -> np.ndarray | None:
        """The frame for the current time, or ``None`` if none is due within ``timeout_s``.

        Frames are delivered at most ``max_fps`` times a second; the call
        sleeps until the next one is due, but never longer than ``timeout_s``
        seconds. Raises :class:`CameraError` when the camera is not open or
        the simulated failure (``fail_after_s``) has happened.
        """
        if self._opened_at is None:
            raise CameraError(f"{self.description} is not open; call open() first")
        if self._unplug.broken:
            raise CameraError(self._unplug.message(self.description))
        now = time.monotonic()
        deadline = now + max(0.0, timeout_s)
        fail_at = self._unplug.fail_at(self._opened_at)
        wake = min(self._next_due, fail_at)
        if wake > now:
            time.sleep(max(0.0, min(wake, deadline) - now))
            now = time.monotonic()
        if now >= fail_at:
            self._unplug.trigger(now)
            raise CameraError(self._unplug.message(self.description))
        if now < self._next_due:
            return None
        period = 1.0 / self.max_fps
        # Keep a steady grid while the caller keeps up; never queue a burst after a stall.
        lag = now - self._next_due
        self._next_due = (self._next_due if lag < period else now) + period
        self.frames_read += 1
        return self.frame_at(now - self._opened_at)

    def close(self) -> None:
        """Stop the clock and free decoders. Harmless when already closed."""
        self._opened_at = None
        self._release()

    def __enter__(self) -> PacedCamera:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def elapsed_s(self) -> float:
        """Seconds since :meth:`open` (the ``t_s`` that :meth:`read` would show now)."""
        if self._opened_at is None:
            raise CameraError(f"{self.description} is not open")
        return time.monotonic() - self._opened_at

    def frame_at(self, t_s: float) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def label_at(self, t_s: float) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _prepare(self) -> None:
        """Check the files on open (raise :class:`CameraError`)."""

    def _release(self) -> None:
        """Free what ``frame_at`` holds open."""
