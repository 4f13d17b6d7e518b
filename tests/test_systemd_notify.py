"""The sd_notify protocol against real AF_UNIX datagram sockets, and the watchdog thread."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance import systemd_notify as sd


class Receiver:
    """A bound AF_UNIX datagram socket standing in for systemd's notify socket."""

    def __init__(self, sock: socket.socket, env_value: str) -> None:
        self.sock = sock
        self.env_value = env_value

    def get(self, timeout_s: float = 2.0) -> str:
        self.sock.settimeout(timeout_s)
        return self.sock.recv(4096).decode()

    def drain(self, within_s: float) -> list[str]:
        """Every datagram that arrives within ``within_s`` seconds."""
        out, end = [], time.monotonic() + within_s
        while (left := end - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                out.append(self.sock.recv(4096).decode())
            except TimeoutError:
                break
        return out


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(sd, "_warned", False)


@pytest.fixture
def path_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    folder = tempfile.mkdtemp(prefix="sdn-", dir="/tmp")  # AF_UNIX paths must be short
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    try:
        yield Receiver(sock, path)
    finally:
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def abstract_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    name = f"soundscape-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    try:
        yield Receiver(sock, "@" + name)
    finally:
        sock.close()


# ---------------------------------------------------------------- notify()
def test_ready_reaches_a_path_socket(path_socket: Receiver) -> None:
    assert sd.ready() is True
    assert path_socket.get() == "READY=1"


def test_ready_reaches_an_abstract_socket(abstract_socket: Receiver) -> None:
    assert sd.ready("playing woods_and_water") is True
    assert abstract_socket.get() == "READY=1\nSTATUS=playing woods_and_water"


def test_watchdog_status_and_stopping_messages(path_socket: Receiver) -> None:
    assert sd.notify("WATCHDOG=1")
    assert path_socket.get() == "WATCHDOG=1"
    assert sd.status("camera lost:\nretrying")  # one line: a newline would start a new key
    assert path_socket.get() == "STATUS=camera lost: retrying"
    assert sd.stopping()
    assert path_socket.get() == "STOPPING=1"
    assert sd.extend_timeout(90)
    assert path_socket.get() == "EXTEND_TIMEOUT_USEC=90000000"


def test_nothing_is_sent_and_nothing_fails_without_notify_socket() -> None:
    assert "NOTIFY_SOCKET" not in os.environ
    assert sd.notify("READY=1") is False
    assert sd.ready("x") is False
    assert sd.status("x") is False
    assert sd.stopping() is False
    assert sd.watchdog_interval_s() is None
    dog = sd.Watchdog(lambda: True)
    assert not dog.enabled
    dog.start()  # a no-op: no thread, nothing sent
    assert dog._thread is None
    dog.stop()


def test_a_dead_socket_is_reported_once_and_never_raises(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "/nonexistent/soundscape/notify")
    with caplog.at_level(logging.WARNING, logger=sd.__name__):
        assert sd.notify("READY=1") is False
        assert sd.notify("WATCHDOG=1") is False
    assert len([r for r in caplog.records if "could not notify" in r.message]) == 1


def test_a_non_unix_address_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert sd.notify("READY=1") is False


# ------------------------------------------------------- watchdog_interval_s
def test_watchdog_interval_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert sd.watchdog_interval_s() == 30.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert sd.watchdog_interval_s() == 30.0


def test_watchdog_interval_is_not_ours_when_the_pid_differs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert sd.watchdog_interval_s() is None


@pytest.mark.parametrize("value", ["", "0", "-5", "soon"])
def test_watchdog_interval_ignores_bad_values(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", value)
    assert sd.watchdog_interval_s() is None


# ---------------------------------------------------------------- Watchdog
def test_watchdog_feeds_at_half_the_interval(
    path_socket: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # 0.2 s: a ping every 0.1 s
    with sd.Watchdog(lambda: True) as dog:
        assert dog.interval_s == pytest.approx(0.2)
        got = path_socket.drain(0.55)
    assert 4 <= len(got) <= 8
    assert set(got) == {"WATCHDOG=1"}


def test_watchdog_stops_feeding_while_unhealthy_and_resumes(
    path_socket: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    healthy = threading.Event()
    healthy.set()
    with caplog.at_level(logging.WARNING, logger=sd.__name__), \
            sd.Watchdog(healthy.is_set, interval_s=0.1):
        assert path_socket.get() == "WATCHDOG=1"
        healthy.clear()  # e.g. the audio loop stalled
        path_socket.drain(0.1)  # a ping already on its way
        assert path_socket.drain(0.4) == []  # several rounds: nothing more
        healthy.set()
        assert path_socket.get() == "WATCHDOG=1"
    stopped = [r for r in caplog.records if "no longer feeding" in r.message]
    resumed = [r for r in caplog.records if "healthy again" in r.message]
    assert len(stopped) == 1 and len(resumed) == 1


def test_watchdog_counts_a_raising_health_check_as_unhealthy(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[str] = []

    def broken() -> bool:
        raise RuntimeError("engine gone")

    dog = sd.Watchdog(broken, interval_s=1.0, send=lambda m: sent.append(m) or True)
    with caplog.at_level(logging.ERROR, logger=sd.__name__):
        assert dog.check() is False
        assert dog.check() is False
    assert sent == []
    assert not dog.feeding


def test_watchdog_check_sends_only_when_healthy() -> None:
    sent: list[str] = []
    state = {"ok": True}
    dog = sd.Watchdog(lambda: state["ok"], interval_s=1.0, send=lambda m: sent.append(m) or True)
    assert dog.check() and sent == ["WATCHDOG=1"]
    state["ok"] = False
    assert not dog.check() and sent == ["WATCHDOG=1"]
    state["ok"] = True
    assert dog.check() and sent == ["WATCHDOG=1", "WATCHDOG=1"]
    assert dog.fed == 2


def test_watchdog_stop_is_prompt_and_idempotent(path_socket: Receiver) -> None:
    dog = sd.Watchdog(lambda: True, interval_s=60.0).start()  # next ping only in 30 s
    assert path_socket.get() == "WATCHDOG=1"
    t0 = time.monotonic()
    dog.stop()
    dog.stop()
    assert time.monotonic() - t0 < 0.5
    assert path_socket.drain(0.1) == []


def test_watchdog_rejects_a_non_positive_interval() -> None:
    with pytest.raises(ValueError):
        sd.Watchdog(lambda: True, interval_s=0)


def test_watchdog_starves_when_the_engine_audio_loop_stalls(
    path_socket: Receiver, embedder, tmp_path: Path
) -> None:
    """Engine.healthy() as the health check: no block for 2 s → no more WATCHDOG=1."""
    from appliance.app import load_corpora, make_cues, make_settings
    from appliance.audio.paced import PacedSink
    from appliance.config import Config
    from appliance.engine import Engine
    from appliance.vision.fake import FakeEmbedder

    stalled, release = threading.Event(), threading.Event()

    class StallingSink(PacedSink):  # a sound card whose driver hangs
        def write(self, block) -> None:
            if stalled.is_set():
                release.wait(10)
            super().write(block)

    corpora = load_corpora(Config.default(), embedder, names=["night"]).corpora
    engine = Engine(make_settings(Config.default(), seed=1), corpora, FakeEmbedder(),
                    StallingSink(48000, 512), make_cues(48000),
                    state_path=tmp_path / "state.json")
    engine.start(announce_ready=False)
    try:
        assert sd.wait_for_first_block(lambda: engine.last_block_at > 0, timeout_s=30)
        with sd.Watchdog(engine.healthy, interval_s=0.4):
            assert path_socket.get() == "WATCHDOG=1"
            stalled.set()
            path_socket.drain(2.5)  # Engine.healthy() tolerates 2 s without a block
            assert path_socket.drain(1.0) == []
    finally:
        release.set()
        engine.stop()


# ------------------------------------------------------ wait_for_first_block
def test_wait_for_first_block() -> None:
    flag = threading.Event()
    threading.Timer(0.1, flag.set).start()
    assert sd.wait_for_first_block(flag.is_set, timeout_s=2.0, poll_s=0.01)
    assert not sd.wait_for_first_block(lambda: False, timeout_s=0.05, poll_s=0.01)
    stop = threading.Event()
    stop.set()
    assert not sd.wait_for_first_block(lambda: False, stop=stop)


def test_module_has_no_dependencies_beyond_the_standard_library() -> None:
    source = Path(sd.__file__).read_text()
    imports = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imports <= {"__future__", "logging", "os", "socket", "threading", "time", "collections"}
