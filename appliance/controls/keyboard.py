"""Keyboard controls: the same :class:`Action`\\s as the buttons, from a terminal or a pipe.

On a terminal, single key presses act at once (the terminal is put in
cbreak mode and restored on :meth:`KeyboardControls.close` and at exit). From a
pipe or any other text stream, input is read line by line: a line is either
a word (``next``, ``up``, ``mute``...) or a run of keys (``n``, ``++``). Input
that means nothing is ignored; it never stops the appliance.
"""

from __future__ import annotations

import atexit
import codecs
import contextlib
import logging
import os
import select
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from appliance.controls.actions import Action

log = logging.getLogger(__name__)

#: Keys, as shown by :func:`help_text`: (keys, what they do, action).
KEY_BINDINGS: tuple[tuple[str, str, Action], ...] = (
    ("n  →", "next corpus", Action.NEXT_CORPUS),
    ("p  ←", "previous corpus", Action.PREVIOUS_CORPUS),
    ("+  =  ↑", "volume up", Action.VOLUME_UP),
    ("-  ↓", "volume down", Action.VOLUME_DOWN),
    ("m", "mute / unmute", Action.TOGGLE_MUTE),
    ("t", "sleep timer: next choice", Action.CYCLE_SLEEP_TIMER),
    ("q", "quit", Action.QUIT),
)

#: Single characters (compared lower-cased) → action.
KEYS: dict[str, Action] = {
    "n": Action.NEXT_CORPUS,
    "p": Action.PREVIOUS_CORPUS,
    "+": Action.VOLUME_UP,
    "=": Action.VOLUME_UP,
    "-": Action.VOLUME_DOWN,
    "_": Action.VOLUME_DOWN,
    "m": Action.TOGGLE_MUTE,
    "t": Action.CYCLE_SLEEP_TIMER,
    "q": Action.QUIT,
}

#: Final byte of an arrow key's escape sequence (``ESC [ A`` or ``ESC O A``) → action.
ARROWS: dict[str, Action] = {
    "A": Action.VOLUME_UP,
    "B": Action.VOLUME_DOWN,
    "C": Action.NEXT_CORPUS,
    "D": Action.PREVIOUS_CORPUS,
}

#: Whole lines accepted in line mode (compared lower-cased) → action.
WORDS: dict[str, Action] = {
    "next": Action.NEXT_CORPUS,
    "previous": Action.PREVIOUS_CORPUS,
    "prev": Action.PREVIOUS_CORPUS,
    "up": Action.VOLUME_UP,
    "down": Action.VOLUME_DOWN,
    "mute": Action.TOGGLE_MUTE,
    "timer": Action.CYCLE_SLEEP_TIMER,
    "quit": Action.QUIT,
    "exit": Action.QUIT,
}

_HELP_KEYS = ("?", "h")
_ESC = "\x1b"
_MAX_ESCAPE = 16  # longest escape sequence we bother to parse (characters)
_ESCAPE_WAIT_S = 0.05  # a lone ESC is dropped after this long without a follow-up (s)


def help_text() -> str:
    """What each key does, one key per line."""
    lines = ["Keys:"]
    lines += [f"  {keys:<9} {what}" for keys, what, _ in KEY_BINDINGS]
    lines.append("  ?  h      this help")
    return "\n".join(lines)


class KeyDecoder:
    """Turn typed characters (including arrow-key escape sequences) into actions.

    Feed text as it arrives with :meth:`feed`; an escape sequence split
    across two reads is completed by the next :meth:`feed`. :meth:`flush`
    drops an unfinished sequence (a lone ESC key).
    """

    def __init__(self) -> None:
        self._escape: str | None = None  # characters after ESC, while a sequence is open
        self.help_requested = False

    @property
    def pending(self) -> bool:
        """True while an escape sequence is unfinished."""
        return self._escape is not None

    def flush(self) -> None:
        """Forget an unfinished escape sequence."""
        self._escape = None

    def feed(self, text: str) -> list[Action]:
        """Decode ``text``; return the actions it contains, in order."""
        actions: list[Action] = []
        for char in text:
            if self._escape is not None:
                action = self._escape_char(char)
                if action is not None:
                    actions.append(action)
                continue
            if char == _ESC:
                self._escape = ""
            elif char in _HELP_KEYS:
                self.help_requested = True
            else:
                action = KEYS.get(char.lower())
                if action is not None:
                    actions.append(action)
        return actions

    def _escape_char(self, char: str) -> Action | None:
        """One character inside an escape sequence (``self._escape`` holds the ones before)."""
        seq = self._escape or ""
        if char == _ESC:  # a new sequence starts; drop the unfinished one
            self._escape = ""
            return None
        if not seq:
            if char in "[O":
                self._escape = char
            else:  # Alt+key or a lone ESC followed by a key: ignore both
                self._escape = None
            return None
        if "\x40" <= char <= "\x7e":
            self._escape = None  # final byte: the sequence is complete
            return ARROWS.get(char)
        if len(seq) >= _MAX_ESCAPE or not "\x20" <= char <= "\x3f":
            self._escape = None  # not a sequence we understand
            return None
        self._escape = seq + char
        return None


class KeyboardControls:
    """Read keys from ``stream`` in a background thread, calling ``on_action(Action)``.

    Live from construction until :meth:`close`. When ``stream`` is a terminal
    (and this process is in its foreground), single keys act at once, in
    cbreak mode; otherwise lines are read until end of input (end of input is
    not a quit: under systemd stdin is ``/dev/null``). ``stream=None`` reads
    nothing. ``on_action`` runs in the reader thread; an exception it raises is
    logged and reading goes on. ``help_out`` receives the help text when ``?``
    or ``h`` is typed (default: stderr).
    """

    def __init__(
        self,
        on_action: Callable[[Action], None],
        stream: TextIO | None = sys.stdin,
        *,
        help_out: TextIO | None = None,
    ) -> None:
        self._on_action = on_action
        self._stream = stream
        self._help_out = help_out
        self._stop = threading.Event()
        self._saved_attrs: Any = None
        self._fd: int | None = None
        self._restore_lock = threading.Lock()
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._thread: threading.Thread | None = None
        self.mode = self._choose_mode(stream)
        if self.mode == "tty":
            self._enter_cbreak()
            self._wake_r, self._wake_w = os.pipe()
            target: Callable[[], None] = self._read_tty
        elif self.mode == "lines":
            target = self._read_lines
        else:
            return
        self._thread = threading.Thread(target=target, name="keyboard", daemon=True)
        self._thread.start()

    help_text = staticmethod(help_text)

    @staticmethod
    def _choose_mode(stream: TextIO | None) -> str:
        """``"tty"``, ``"lines"`` or ``"off"`` for this stream."""
        if stream is None or getattr(stream, "closed", False):
            return "off"
        try:
            is_tty = stream.isatty()
        except (AttributeError, ValueError, OSError):
            is_tty = False
        if not is_tty:
            return "lines"
        try:
            import termios  # noqa: F401  (POSIX only)

            fd = stream.fileno()
        except (ImportError, OSError, ValueError, AttributeError) as exc:
            log.info("keyboard controls read lines: no single-key mode (%s)", exc)
            return "lines"
        try:
            foreground = os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            foreground = True  # not our controlling terminal: job control cannot stop us
        if not foreground:
            # Reading or changing the mode of the terminal from the background
            # would stop the whole process (SIGTTIN / SIGTTOU).
            log.info("keyboard controls off: running in the background of the terminal")
            return "off"
        return "tty"

    # -- terminal mode -----------------------------------------------------

    def _enter_cbreak(self) -> None:
        import termios
        import tty

        assert self._stream is not None
        fd = self._stream.fileno()
        try:
            self._saved_attrs = termios.tcgetattr(fd)
            tty.setcbreak(fd, termios.TCSANOW)
        except termios.error as exc:
            log.info("keyboard controls read lines: cannot set cbreak mode (%s)", exc)
            self._saved_attrs = None
            self.mode = "lines"
            return
        self._fd = fd
        atexit.register(self._restore_terminal)

    def _restore_terminal(self) -> None:
        """Put the terminal back as it was (idempotent; also run at exit)."""
        with self._restore_lock:
            attrs, self._saved_attrs = self._saved_attrs, None
            if attrs is None or self._fd is None:
                return
            import termios

            with contextlib.suppress(termios.error, OSError, ValueError):
                termios.tcsetattr(self._fd, termios.TCSADRAIN, attrs)
        with contextlib.suppress(Exception):
            atexit.unregister(self._restore_terminal)

    def _read_tty(self) -> None:
        """Thread: read single keys from the terminal until closed or hung up."""
        assert self._fd is not None and self._wake_r is not None
        decoder = KeyDecoder()
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            while not self._stop.is_set():
                timeout = _ESCAPE_WAIT_S if decoder.pending else None
                ready, _, _ = select.select([self._fd, self._wake_r], [], [], timeout)
                if self._wake_r in ready or self._stop.is_set():
                    break
                if not ready:
                    decoder.flush()  # a lone ESC key
                    continue
                data = os.read(self._fd, 64)
                if not data:
                    break  # terminal hung up
                self._dispatch(decoder, decoder.feed(utf8.decode(data)))
        except Exception as exc:
            log.warning("keyboard controls stopped: %s", exc)
        finally:
            self._restore_terminal()

    # -- line mode -----------------------------------------------------------

    def _read_lines(self) -> None:
        """Thread: read lines until end of input or closed."""
        assert self._stream is not None
        decoder = KeyDecoder()
        try:
            while not self._stop.is_set():
                line = self._stream.readline()
                if not line:
                    break  # end of input: not a quit
                if self._stop.is_set():
                    break
                word = line.strip().lower()
                if word in WORDS:
                    self._dispatch(decoder, [WORDS[word]])
                    continue
                actions = decoder.feed(line.rstrip("\r\n"))
                decoder.flush()
                self._dispatch(decoder, actions)
        except Exception as exc:  # a closed or undecodable stream: stop reading, keep running
            log.warning("keyboard controls stopped: %s", exc)

    # -- common ----------------------------------------------------------------

    def _dispatch(self, decoder: KeyDecoder, actions: list[Action]) -> None:
        if decoder.help_requested:
            decoder.help_requested = False
            out = self._help_out or sys.stderr
            with contextlib.suppress(Exception):
                out.write(help_text() + "\n")
                out.flush()
        for action in actions:
            if self._stop.is_set():
                return
            try:
                self._on_action(action)
            except Exception:
                log.exception("keyboard action handler failed")

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the reader to finish (end of input or close); True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def active(self) -> bool:
        """True while keys are being read."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        """Stop reading and restore the terminal. Safe to call twice.

        In line mode a reader blocked on input is left to finish by itself
        (it is a daemon thread and calls nothing once closed).
        """
        self._stop.set()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
        if self._thread is not None and self.mode == "tty":
            self._thread.join(1.0)
        self._restore_terminal()
        for fd_name in ("_wake_r", "_wake_w"):
            fd = getattr(self, fd_name)
            if fd is not None and not (self._thread is not None and self._thread.is_alive()):
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, fd_name, None)

    def __enter__(self) -> KeyboardControls:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
