"""Persisted state: round trip, fallbacks with one warning, and survival of kill -9."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance import PROJECT_ROOT
from appliance.state import STATE_VERSION, State, default_state_path, load_state, save_state


def temp_files(directory: Path) -> list[Path]:
    return sorted(directory.glob(".*.tmp"))


def warnings_from(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "appliance.state" and r.levelno >= logging.WARNING
    ]


@pytest.mark.arm
def test_round_trip_creates_parent_directory(tmp_path: Path, caplog) -> None:
    path = tmp_path / "deep" / "er" / "state.json"
    state = State(corpus="night", volume=0.35, muted=True, timer_min=30)
    assert save_state(path, state) is True
    assert load_state(path) == state
    assert not warnings_from(caplog)
    assert json.loads(path.read_text())["version"] == STATE_VERSION
    assert temp_files(path.parent) == []


def test_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    save_state(path, State(corpus="a"))
    save_state(path, State(corpus="b", volume=1.0))
    assert load_state(path) == State(corpus="b", volume=1.0)


def test_missing_file_gives_defaults_with_one_warning(tmp_path: Path, caplog) -> None:
    path = tmp_path / "state.json"
    assert load_state(path) == State()
    records = warnings_from(caplog)
    assert len(records) == 1 and str(path) in records[0].getMessage()


def test_defaults_can_be_given(tmp_path: Path, caplog) -> None:
    assert load_state(tmp_path / "none.json", defaults=State(volume=0.3)) == State(volume=0.3)


@pytest.mark.arm
@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b'{"corpus": "night", "vol', "not valid JSON"),
        (b"\x00\x00\x00\x00", "not valid JSON"),
        (b"\xff\xfe garbage", "not UTF-8"),
        (b"[1, 2, 3]", "JSON object"),
        (b'"just a string"', "JSON object"),
        (b"null", "JSON object"),
        (b"[" * 100000, "valid JSON"),  # deep nesting: RecursionError inside json
    ],
)
def test_corrupt_file_gives_defaults_and_one_warning(
    tmp_path: Path, caplog, content: bytes, what: str
) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    assert load_state(path) == State()
    records = warnings_from(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert str(path) in message
    assert what in message or "cannot read" in message, message


def test_wrong_typed_fields_take_defaults_and_others_are_kept(tmp_path: Path, caplog) -> None:
    path = tmp_path / "state.json"
    path.write_text(
        json.dumps(
            {"version": 1, "corpus": "farm", "volume": "loud", "muted": 1, "timer_min": 15.5}
        )
    )
    assert load_state(path) == State(corpus="farm")
    records = warnings_from(caplog)
    assert len(records) == 1
    message = records[0].getMessage()
    assert str(path) in message
    for name in ("volume", "muted", "timer_min"):
        assert name in message


@pytest.mark.parametrize(
    "data",
    [
        {"volume": 1.5},
        {"volume": -0.1},
        {"volume": True},
        {"timer_min": -5},
        {"timer_min": 100000},
        {"corpus": 3},
        {"version": "one"},
    ],
)
def test_out_of_range_fields(tmp_path: Path, caplog, data: dict) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(data))
    assert load_state(path) == State()
    assert len(warnings_from(caplog)) == 1


@pytest.mark.arm
def test_hand_corrupted_file(tmp_path: Path, caplog) -> None:
    """Someone edited the file and left a syntax error: defaults and one clear warning."""
    path = tmp_path / "state.json"
    save_state(path, State(corpus="harbour", volume=0.9))
    path.write_text(path.read_text().replace('"volume": 0.9', '"volume": 0.9,,'))
    caplog.clear()
    assert load_state(path) == State()
    records = warnings_from(caplog)
    assert len(records) == 1
    assert str(path) in records[0].getMessage()
    assert "line" in records[0].getMessage()


def test_unknown_fields_and_missing_fields_are_fine(tmp_path: Path, caplog) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"corpus": "night", "future_thing": [1, 2]}))
    assert load_state(path) == State(corpus="night")
    assert not warnings_from(caplog)


@pytest.mark.arm
def test_save_failure_does_not_raise_and_warns_once(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    path = blocker / "state.json"
    assert save_state(path, State()) is False
    assert save_state(path, State()) is False
    assert len(warnings_from(caplog)) == 1


@pytest.mark.arm
def test_stale_temp_files_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    for i in range(3):
        (tmp_path / f".state.json.stale{i}.tmp").write_text("{")
    (tmp_path / "other.tmp").write_text("not ours")
    save_state(path, State(corpus="x"))
    assert temp_files(tmp_path) == []
    assert (tmp_path / "other.tmp").exists()
    assert load_state(path).corpus == "x"


def test_default_state_path(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}/a:{tmp_path}/b")
    assert default_state_path() == tmp_path / "a" / "state.json"
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_path() == tmp_path / "xdg" / "soundscape" / "state.json"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    home_state = tmp_path / "home" / ".local" / "state" / "soundscape" / "state.json"
    assert default_state_path() == home_state


# ------------------------------------------------------------------ kill -9

WRITER = """
import sys
from pathlib import Path
from appliance.state import State, save_state

path = Path(sys.argv[1])
states = [
    State(corpus="woods_and_water" * 200, volume=0.25, muted=False, timer_min=15),
    State(corpus="night", volume=0.75, muted=True, timer_min=60),
]
sys.stdin.buffer.read(1)  # started ahead of time: wait for the go
save_state(path, states[0])
print("ready", flush=True)
i = 0
while True:
    i += 1
    save_state(path, states[i % 2])
"""

WRITTEN = (
    State(corpus="woods_and_water" * 200, volume=0.25, muted=False, timer_min=15),
    State(corpus="night", volume=0.75, muted=True, timer_min=60),
)


def test_state_survives_kill_9_during_writes(tmp_path: Path, caplog) -> None:
    """SIGKILL a process that saves in a tight loop, many times; the file is always whole.

    Writers are started in batches ahead of time (each waits for a byte on
    stdin) so that interpreter start-up does not dominate the run time.
    """
    path = tmp_path / "state" / "state.json"
    rng = random.Random(1234)
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    wanted, iterations = 40, 0
    deadline = time.monotonic() + 8.0

    def spawn() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )

    while iterations < wanted and time.monotonic() < deadline:
        batch = [spawn() for _ in range(min(8, wanted - iterations))]
        for proc in batch:
            assert proc.stdin is not None and proc.stdout is not None
            try:
                if time.monotonic() >= deadline:
                    continue
                proc.stdin.write(b"g")
                proc.stdin.flush()
                assert proc.stdout.readline().strip() == b"ready"
                time.sleep(rng.uniform(0.0, 0.03))
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                proc.stdin.close()
                proc.stdout.close()
            iterations += 1
            caplog.clear()
            assert load_state(path) in WRITTEN
            assert not warnings_from(caplog), [r.getMessage() for r in caplog.records]
            assert len(temp_files(path.parent)) <= 1
    # Normally all 40 fit in a few seconds; on a loaded machine fewer, but still a real test.
    assert iterations >= 10, f"only {iterations} kill iterations in the time allowed"
    # The next save tidies up whatever the last kill left behind.
    save_state(path, State(corpus="after"))
    assert temp_files(path.parent) == []
    assert load_state(path).corpus == "after"
