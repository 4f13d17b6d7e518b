"""The systemd notification protocol (``sd_notify``), with the standard library only.

Under ``Type=notify`` systemd passes ``$NOTIFY_SOCKET``: the address of an
``AF_UNIX`` datagram socket (a path, or ``@name`` for a Linux abstract
socket). A message is one datagram of newline-separated ``KEY=VALUE``
assignments: ``READY=1`` when start-up is complete, ``STATUS=...`` for
``systemctl status``, ``STOPPING=1``, ``WATCHDOG=1`` to feed the watchdog
(``WatchdogSec=``, passed to the process as ``$WATCHDOG_USEC``), and
``EXTEND_TIMEOUT_USEC=...`` to ask for more start-up time.

Outside systemd (no ``$NOTIFY_SOCKET``) every function does nothing and
returns False; a send that fails is logged once and never raises, so the
appliance behaves the same with or without a service manager.

How ``soundscape run`` uses it::

    engine.start()
    wait_for_first_block(lambda: engine.last_block_at > 0)  # first block written
    ready(f"playing {corpus}")              # READY=1 + STATUS=...
    dog = Watchdog(engine.healthy)          # WATCHDOG=1 only while healthy
    dog.start()
    ...
    stopping(); dog.stop()
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

_warned = False


def _address(value: str) -> str | None:
    """``$NOTIFY_SOCKET`` as a ``socket.connect`` address; None if not an AF_UNIX one."""
    if value.startswith("@"):
        return "\0" + value[1:]  # Linux abstract namespace
    if value.startswith("/"):
        return value
    return None  # e.g. "vsock:..." (systemd 254+, for VMs): not used on this appliance


def notify(message: str) -> bool:
    """Send ``message`` (``"READY=1"``, ``"WATCHDOG=1\\nSTATUS=..."``) to the service manager.

    Returns True when the datagram was sent; False when ``$NOTIFY_SOCKET`` is
    unset (not running under systemd), is not an ``AF_UNIX`` address, or the
    send failed (logged once at warning level). Never raises.
    """
    global _warned
    value = os.environ.get("NOTIFY_SOCKET", "")
    if not value:
        return False
    address = _address(value)
    if address is None:
        if not _warned:
            log.warning("NOTIFY_SOCKET=%r is not an AF_UNIX address; not notifying", value)
            _warned = True
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8", "replace"))
    except OSError as exc:
        if not _warned:
            log.warning("could not notify systemd at %s: %s", value, exc)
            _warned = True
        return False
    return True


def _one_line(text: str) -> str:
    """STATUS= takes one line: newlines would start new assignments."""
    return " ".join(str(text).split())


def ready(status: str = "") -> bool:
    """``READY=1`` (start-up complete), with an optional ``STATUS=`` line."""
    return notify("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))


def status(text: str) -> bool:
    """``STATUS=text``: the free-form line ``systemctl status`` shows."""
    return notify(f"STATUS={_one_line(text)}")


def stopping(text: str = "") -> bool:
    """``STOPPING=1``: the service is shutting down on purpose."""
    return notify("STOPPING=1" + (f"\nSTATUS={_one_line(text)}" if text else ""))


def extend_timeout(seconds: float) -> bool:
    """``EXTEND_TIMEOUT_USEC``: still starting (e.g. a cold Numba compile); give it more time.

    Asks for ``seconds`` more from now, beyond ``TimeoutStartSec=`` if needed.
    """
    return notify(f"EXTEND_TIMEOUT_USEC={max(1, int(seconds * 1_000_000))}")


def watchdog_interval_s() -> float | None:
    """The watchdog period systemd expects (``$WATCHDOG_USEC``, seconds), or None.

    None when the variable is unset or not a positive integer, or when
    ``$WATCHDOG_PID`` is set and names another process (the variables were
    inherited by a child, which must not feed the parent's watchdog).
    """
    raw = os.environ.get("WATCHDOG_USEC", "")
    try:
        usec = int(raw)
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = os.environ.get("WATCHDOG_PID", "")
    if pid:
        try:
            if int(pid) != os.getpid():
                return None
        except ValueError:
            return None
    return usec / 1_000_000


class Watchdog:
    """Feeds systemd's watchdog from a thread, but only while ``healthy()`` says so.

    Every ``interval_s / 2`` seconds the thread calls ``healthy`` and, when it
    returns True, sends ``WATCHDOG=1``. When it returns False (or raises) the
    thread stops feeding, so systemd kills and restarts the service after
    ``WatchdogSec=``; it logs once when it stops feeding and once when
    feeding resumes. ``interval_s`` defaults to :func:`watchdog_interval_s`;
    when that is None (no watchdog configured) :meth:`start` does nothing.
    """

    def __init__(
        self,
        healthy: Callable[[], bool],
        interval_s: float | None = None,
        *,
        send: Callable[[str], bool] = notify,
    ) -> None:
        self.healthy = healthy
        self.interval_s = watchdog_interval_s() if interval_s is None else float(interval_s)
        if self.interval_s is not None and self.interval_s <= 0:
            raise ValueError(f"watchdog interval must be positive, not {self.interval_s}")
        self._send = send
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Feeds sent so far, and whether the last check found the engine healthy.
        self.fed = 0
        self.feeding = True

    @property
    def enabled(self) -> bool:
        """Whether systemd expects a watchdog (and :meth:`start` starts a thread)."""
        return self.interval_s is not None

    def check(self) -> bool:
        """One round: ask ``healthy()``, send ``WATCHDOG=1`` if it is. Returns what it found."""
        try:
            ok = bool(self.healthy())
        except Exception:
            log.exception("watchdog: the health check raised; counting it as unhealthy")
            ok = False
        if ok:
            self._send("WATCHDOG=1")
            self.fed += 1
            if not self.feeding:
                log.warning("watchdog: healthy again, feeding systemd's watchdog again")
        elif self.feeding:
            log.error(
                "watchdog: the engine is not healthy (audio stalled or vision loop dead); "
                "no longer feeding systemd's watchdog, which restarts the service within %.0f s",
                self.interval_s or 0,
            )
        self.feeding = ok
        return ok

    def _run(self) -> None:
        assert self.interval_s is not None
        period = self.interval_s / 2
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.check()
            next_at += period
            delay = next_at - time.monotonic()
            if delay < 0:  # fell behind (suspended, overloaded): do not burst
                next_at, delay = time.monotonic(), 0.0
            self._stop.wait(delay)

    def start(self) -> Watchdog:
        """Start feeding (a daemon thread); returns self. A no-op when not :attr:`enabled`."""
        if self.enabled and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sd-watchdog", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 1.0) -> None:
        """Stop the thread (no more feeds). Safe to call twice or without :meth:`start`."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def __enter__(self) -> Watchdog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for_first_block(
    block_written: Callable[[], bool],
    *,
    timeout_s: float | None = None,
    poll_s: float = 0.05,
    stop: threading.Event | None = None,
) -> bool:
    """Wait until ``block_written()`` is True (e.g. ``lambda: engine.last_block_at > 0``).

    Returns False if ``timeout_s`` passed or ``stop`` was set first. Call
    :func:`ready` after it returns True: then the kernels are loaded and the
    card has accepted audio.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    waiter = stop or threading.Event()
    while not block_written():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        if waiter.wait(poll_s):
            return False
    return True
