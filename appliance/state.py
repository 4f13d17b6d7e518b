"""What the appliance remembers across restarts: corpus, volume, mute, sleep timer.

The state is a small JSON file. It is replaced atomically (temp file in the
same directory, ``fsync``, ``os.replace``, ``fsync`` of the directory), so a
power cut or a ``kill -9`` at any moment leaves either the old or the new
state on disk, never a torn one. Reading never raises: a missing, empty,
corrupt or wrong-typed file gives the defaults, with one logged warning that
names the file and what was wrong.

Only one process should write a given state file (the appliance): a save
removes temp files left behind by an earlier, interrupted save.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import stat
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: Format version written into the file; bump it when the meaning of a field changes.
STATE_VERSION = 1

#: File name used inside ``$STATE_DIRECTORY`` or ``~/.local/state/soundscape``.
STATE_FILENAME = "state.json"

#: Longest sleep timer that is accepted back from the file (min), as in ``[timer]``.
_MAX_TIMER_MIN = 1440


@dataclass
class State:
    """The remembered settings.

    ``corpus`` is the name of the corpus playing ("" = the first one),
    ``volume`` the output volume (0–1, before mute), ``muted`` whether output is
    muted, ``timer_min`` the sleep timer choice (min, 0 = off), ``version``
    the file format version.
    """

    corpus: str = ""
    volume: float = 0.6
    muted: bool = False
    timer_min: int = 0
    version: int = STATE_VERSION


def default_state_path() -> Path:
    """Where the state lives when ``[state] path`` is empty.

    Under systemd with ``StateDirectory=`` this is ``$STATE_DIRECTORY/state.json``
    (the first directory, if several are listed); otherwise
    ``$XDG_STATE_HOME/soundscape/state.json``, i.e. normally
    ``~/.local/state/soundscape/state.json``.
    """
    state_dirs = os.environ.get("STATE_DIRECTORY", "")
    first = state_dirs.split(":")[0].strip()
    if first:
        return Path(first) / STATE_FILENAME
    xdg = os.environ.get("XDG_STATE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "soundscape" / STATE_FILENAME


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def _check_field(name: str, value: Any, default: Any) -> tuple[Any, str | None]:
    """Return ``(value to use, problem or None)`` for one field read from the file."""
    shown = json.dumps(value)[:60]
    if name == "corpus":
        if isinstance(value, str):
            return value, None
        return default, f"corpus = {shown} is not a string"
    if name == "volume":
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value) and 0.0 <= value <= 1.0:
                return float(value), None
            return default, f"volume = {shown} is out of range 0–1"
        return default, f"volume = {shown} is not a number"
    if name == "muted":
        if isinstance(value, bool):
            return value, None
        return default, f"muted = {shown} is not true/false"
    if name == "timer_min":
        if isinstance(value, int) and not isinstance(value, bool):
            if 0 <= value <= _MAX_TIMER_MIN:
                return value, None
            return default, f"timer_min = {shown} is out of range 0–{_MAX_TIMER_MIN}"
        return default, f"timer_min = {shown} is not a whole number"
    raise AssertionError(name)  # pragma: no cover - every field is handled above


def _parse(text: str, defaults: State) -> tuple[State, list[str]]:
    """Parse the file's text; return the state and what was wrong (empty if nothing)."""
    if not text.strip():
        return dataclasses.replace(defaults), ["the file is empty (an interrupted write?)"]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return dataclasses.replace(defaults), [
            f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ]
    if not isinstance(data, dict):
        return dataclasses.replace(defaults), ["it does not hold a JSON object"]
    problems: list[str] = []
    version = data.get("version", STATE_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        problems.append(f"version = {json.dumps(version)[:60]} is not a whole number")
    elif version > STATE_VERSION:
        problems.append(
            f"it was written by a newer version of the appliance (format {version}, "
            f"this one reads {STATE_VERSION}); keeping what can be read"
        )
    values: dict[str, Any] = {}
    for f in dataclasses.fields(State):
        if f.name == "version" or f.name not in data:
            continue
        value, problem = _check_field(f.name, data[f.name], getattr(defaults, f.name))
        values[f.name] = value
        if problem:
            problems.append(problem)
    state = dataclasses.replace(defaults, **values)
    state.version = STATE_VERSION
    return state, problems


#: A state file is about 100 bytes; one much larger is not ours.
_MAX_STATE_BYTES = 64 << 10


def _read_small(path: Path) -> bytes:
    """The file's bytes; a FIFO or device (which would block) or a huge file is refused."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(0, "not a regular file")
        raw = fh.read(_MAX_STATE_BYTES + 1)
    if len(raw) > _MAX_STATE_BYTES:
        raise OSError(0, f"larger than {_MAX_STATE_BYTES >> 10} KB, not a state file")
    return raw


def load_state(path: Path, defaults: State | None = None) -> State:
    """Read the state file; never raises.

    A missing, unreadable, empty or corrupt file gives ``defaults`` (default:
    ``State()``); a field of the wrong type or out of range takes its default
    while the other fields are kept. Any such problem is logged as ONE warning
    naming the file.
    """
    defaults = defaults if defaults is not None else State()
    path = Path(path)
    try:
        try:
            text = _read_small(path).decode("utf-8")
        except FileNotFoundError:
            log.warning("no saved state at %s (first start?); using defaults", path)
            return dataclasses.replace(defaults)
        except UnicodeDecodeError as exc:
            state, problems = dataclasses.replace(defaults), [
                f"not UTF-8 text (bad byte at offset {exc.start})"
            ]
        else:
            state, problems = _parse(text, defaults)
    except Exception as exc:  # OSError, RecursionError, ...: anything means "use defaults"
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        log.warning("cannot read saved state %s (%s); using defaults", path, detail)
        return dataclasses.replace(defaults)
    if problems:
        log.warning(
            "saved state %s: %s; using defaults for what could not be read",
            path,
            "; ".join(problems),
        )
    return state


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

_save_lock = threading.Lock()
_reported_failures: set[tuple[str, str]] = set()


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _remove_stale_temps(path: Path) -> None:
    """Delete temp files left by saves that were interrupted (crash, kill -9, power cut)."""
    with contextlib.suppress(OSError):
        for stale in path.parent.glob(f"{_temp_prefix(path)}*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename still happened
    finally:
        os.close(fd)


def _encode(state: State) -> bytes:
    data = {
        "version": STATE_VERSION,
        "corpus": state.corpus,
        "volume": float(state.volume),
        "muted": bool(state.muted),
        "timer_min": int(state.timer_min),
    }
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def save_state(path: Path, state: State) -> bool:
    """Write ``state`` to ``path`` atomically; return True if it is safely on disk.

    Creates the parent directory. Writes a temp file beside ``path``, flushes
    and ``fsync``\\s it, renames it over ``path`` and ``fsync``\\s the
    directory. A failure (read-only or full disk, permissions) does not raise:
    it is logged as a warning (once per distinct problem) and returns False,
    so the appliance keeps playing. Safe to call from several threads.
    """
    path = Path(path)
    payload = _encode(state)
    with _save_lock:
        tmp_name: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _remove_stale_temps(path)
            fd, tmp_name = tempfile.mkstemp(
                prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent
            )
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fchmod(fh.fileno(), 0o644)
                os.fsync(fh.fileno())
            os.replace(tmp_name, path)
            tmp_name = None
            _fsync_directory(path.parent)
        except OSError as exc:
            key = (str(path), exc.strerror or str(exc))
            if key not in _reported_failures:
                _reported_failures.add(key)
                log.warning("cannot save state to %s: %s", path, key[1])
            else:
                log.debug("cannot save state to %s: %s", path, key[1])
            return False
        finally:
            if tmp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
        _reported_failures.clear()
        return True
