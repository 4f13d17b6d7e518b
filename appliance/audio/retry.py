"""Keep playing through a sound card that is missing or goes away, and say so.

A USB DAC can be unplugged, or not be up yet when the service starts at
boot. :class:`RetryingSink` wraps any sink: while the device is gone it
keeps the audio thread running at the real-time pace (dropping the blocks),
tries to reopen it with exponential backoff (0.5 s, 1 s, 2 s, ... 8 s at
most) and calls ``on_retry`` after every failure, so the engine can log it
(and speak it through another output), and ``on_recover`` when it is back.
It is the box's one retry policy for the sound card: the engine opens its sink
once and leaves outages to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from appliance.audio.base import AudioSink
from appliance.backoff import Backoff
from appliance.errors import AudioDeviceError

log = logging.getLogger(__name__)

#: ``on_retry(error, attempt, delay_s)``: the device failed (``attempt`` counts from 1),
#: the next try is in ``delay_s`` seconds.
RetryCallback = Callable[[AudioDeviceError, int, float], None]
#: ``on_recover(outage_s)``: the device works again after ``outage_s`` seconds.
RecoverCallback = Callable[[float], None]

FIRST_DELAY_S = 0.5
MAX_DELAY_S = 8.0


def _call(callback: Callable[..., None] | None, *args: object) -> None:
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:  # a broken callback must not stop the audio
        log.exception("audio retry callback failed")


class RetryingSink:
    """An :class:`AudioSink` that survives its device: never raises from ``open`` or ``write``.

    ``make_sink`` makes a fresh (unopened) sink for each attempt, e.g.
    ``lambda: AlsaSink("default")``; the first one is made at once and gives
    this sink its ``sample_rate``, ``channels``, ``block_size`` and
    ``sample_format``. While the device is down, ``write`` sleeps one block's
    duration per block (keeping the caller's real-time pace) and tries to
    reopen whenever the backoff delay has passed.
    """

    def __init__(
        self,
        make_sink: Callable[[], AudioSink],
        *,
        on_retry: RetryCallback | None = None,
        on_recover: RecoverCallback | None = None,
        first_delay_s: float = FIRST_DELAY_S,
        max_delay_s: float = MAX_DELAY_S,
    ) -> None:
        self._make = make_sink
        self.on_retry = on_retry
        self.on_recover = on_recover
        self.first_delay_s = float(first_delay_s)
        self.max_delay_s = float(max_delay_s)
        self._backoff = Backoff(self.first_delay_s, self.max_delay_s)
        self._sink: AudioSink = make_sink()
        self.sample_rate = self._sink.sample_rate
        self.channels = self._sink.channels
        self.block_size = self._sink.block_size
        self.sample_format: str = getattr(self._sink, "sample_format", "S16_LE")
        #: Blocks dropped while the device was down.
        self.dropped_blocks = 0
        #: Failures so far (open or write), over the sink's life.
        self.failures = 0
        #: The last device error (``None`` while it has never failed).
        self.last_error: AudioDeviceError | None = None
        self._xruns_before = 0  # xruns of sinks already discarded
        self._up = False
        self._open = False
        self._attempt = 0  # failures in the current outage
        self._down_since = 0.0
        self._next_try = 0.0
        self._pace: float | None = None  # monotonic time the next dropped block would end

    @property
    def is_up(self) -> bool:
        """Whether the device is open and taking audio."""
        return self._up

    @property
    def sink(self) -> AudioSink:
        """The wrapped sink (the newest attempt)."""
        return self._sink

    @property
    def description(self) -> str:
        state = "" if self._up else " [down, retrying]"
        return f"{self._sink.description}{state}"

    @property
    def xruns(self) -> int:
        return self._xruns_before + self._sink.xruns

    def open(self) -> None:
        """Try to open the device; on failure report it and carry on (retrying later)."""
        if self._open:
            return
        self._open = True
        self._try_open(time.monotonic())

    def _try_open(self, now: float) -> bool:
        try:
            self._sink.open()
        except AudioDeviceError as exc:
            self._failed(exc, now)
            return False
        if self._attempt:
            outage = now - self._down_since
            log.warning("%s is back after %.1f s", self._sink.description, outage)
            _call(self.on_recover, outage)
        self._up, self._attempt, self._pace = True, 0, None
        return True

    def _failed(self, exc: AudioDeviceError, now: float) -> None:
        if self._attempt == 0:
            self._down_since = now
        self._up = False
        self._attempt += 1
        self.failures += 1
        self.last_error = exc
        delay = self._backoff.delay_after(self._attempt)
        self._next_try = now + delay
        log.warning("%s (attempt %d; retrying in %.1f s)", exc, self._attempt, delay)
        _call(self.on_retry, exc, self._attempt, delay)

    def write(self, block: np.ndarray) -> None:
        """Play ``block``, or drop it at the real-time pace while the device is down."""
        if not self._open:
            raise AudioDeviceError(f"{self.description} is not open; call open() first")
        now = time.monotonic()
        if not self._up and now >= self._next_try:
            self._xruns_before += self._sink.xruns
            self._sink.close()
            self._sink = self._make()
            self._try_open(now)
        if self._up:
            try:
                self._sink.write(block)
                return
            except AudioDeviceError as exc:
                self._sink.close()
                self._failed(exc, time.monotonic())
        self._drop(block)

    def _drop(self, block: np.ndarray) -> None:
        """Sleep one block's duration (on a steady grid) instead of playing it."""
        self.dropped_blocks += 1
        frames = np.asarray(block).size // self.channels
        now = time.monotonic()
        if self._pace is None or self._pace < now - 0.5:
            self._pace = now
        self._pace += frames / self.sample_rate
        if self._pace > now:
            time.sleep(self._pace - now)

    def close(self) -> None:
        """Close the device (if open). Harmless when already closed."""
        self._open = False
        self._up = False
        self._sink.close()

    def __enter__(self) -> RetryingSink:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
