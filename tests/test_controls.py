"""GPIO buttons (on gpiozero's MockFactory) and keyboard controls produce the right actions."""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Iterator

import pytest

from appliance.config import DEFAULT_PINS, ButtonsConfig
from appliance.controls.actions import Action
from appliance.controls.debounce import EdgeFilter
from appliance.errors import ControlsError

gpiozero = pytest.importorskip("gpiozero")
from gpiozero.pins.mock import MockFactory  # noqa: E402

from appliance.controls.buttons import ButtonControls, gpio_status  # noqa: E402
from appliance.controls.keyboard import KeyboardControls, KeyDecoder, help_text  # noqa: E402


class FakeClock:
    """A clock that only moves when told to (s)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """Collects actions from any thread; can wait for them."""

    def __init__(self) -> None:
        self.actions: list[Action] = []
        self._cond = threading.Condition()

    def __call__(self, action: Action) -> None:
        with self._cond:
            self.actions.append(action)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 3.0) -> list[Action]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.actions) >= count, timeout)
            return list(self.actions)


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def tap(factory: MockFactory, pin: int, clock: FakeClock, down_s: float = 0.15) -> None:
    """A clean press and release of ``down_s`` seconds (on the fake clock)."""
    clock.advance(0.5)
    factory.pin(pin).drive_low()
    clock.advance(down_s)
    factory.pin(pin).drive_high()


def make(factory: MockFactory, clock: FakeClock, rec: Recorder, **kwargs) -> ButtonControls:
    return ButtonControls(rec, pin_factory=factory, clock=clock, **kwargs)


# ------------------------------------------------------------------ buttons


def test_short_presses_fire_on_release(factory, clock) -> None:
    rec = Recorder()
    with make(factory, clock, rec):
        clock.advance(1)
        factory.pin(DEFAULT_PINS["next"]).drive_low()
        assert rec.actions == []  # nothing until release
        clock.advance(0.1)
        factory.pin(DEFAULT_PINS["next"]).drive_high()
        assert rec.actions == [Action.NEXT_CORPUS]
        tap(factory, DEFAULT_PINS["previous"], clock)
        tap(factory, DEFAULT_PINS["volume_up"], clock)
        tap(factory, DEFAULT_PINS["volume_down"], clock)
        tap(factory, DEFAULT_PINS["next"], clock)
    assert rec.actions == [
        Action.NEXT_CORPUS,
        Action.PREVIOUS_CORPUS,
        Action.VOLUME_UP,
        Action.VOLUME_DOWN,
        Action.NEXT_CORPUS,
    ]


def test_buttons_use_pull_up_and_start_released(factory, clock) -> None:
    rec = Recorder()
    with make(factory, clock, rec):
        for pin in DEFAULT_PINS.values():
            assert factory.pin(pin).pull == "up"
            assert factory.pin(pin).state == 1
    assert rec.actions == []


def test_hold_volume_down_mutes_without_volume_down(factory, clock) -> None:
    rec = Recorder()
    with make(factory, clock, rec, hold_s=0.05):
        pin = factory.pin(DEFAULT_PINS["volume_down"])
        clock.advance(1)
        pin.drive_low()
        assert rec.wait_for(1) == [Action.TOGGLE_MUTE]  # fires while still held
        time.sleep(0.1)  # no repeat while held
        clock.advance(1)
        pin.drive_high()
        tap(factory, DEFAULT_PINS["volume_down"], clock)  # a short one after
    assert rec.actions == [Action.TOGGLE_MUTE, Action.VOLUME_DOWN]


def test_hold_volume_up_cycles_sleep_timer(factory, clock) -> None:
    rec = Recorder()
    with make(factory, clock, rec, hold_s=0.05):
        pin = factory.pin(DEFAULT_PINS["volume_up"])
        clock.advance(1)
        pin.drive_low()
        assert rec.wait_for(1) == [Action.CYCLE_SLEEP_TIMER]
        clock.advance(1)
        pin.drive_high()
    assert rec.actions == [Action.CYCLE_SLEEP_TIMER]


def test_release_before_hold_time_is_a_press(factory, clock) -> None:
    rec = Recorder()
    with make(factory, clock, rec, hold_s=0.4):
        pin = factory.pin(DEFAULT_PINS["volume_down"])
        clock.advance(1)
        pin.drive_low()
        time.sleep(0.05)
        clock.advance(0.05)
        pin.drive_high()
        time.sleep(0.5)  # gpiozero's hold timer must not fire after the release
    assert rec.actions == [Action.VOLUME_DOWN]


def test_bounce_gives_one_action(factory, clock) -> None:
    rec = Recorder()
    with make(factory, clock, rec, debounce_ms=30):
        pin = factory.pin(DEFAULT_PINS["next"])
        clock.advance(1)
        for _ in range(3):  # press chatter: L H L H L H L, 2 ms apart
            pin.drive_low()
            clock.advance(0.002)
            pin.drive_high()
            clock.advance(0.002)
        pin.drive_low()
        clock.advance(0.2)
        for _ in range(3):  # release chatter
            pin.drive_high()
            clock.advance(0.003)
            pin.drive_low()
            clock.advance(0.003)
        pin.drive_high()
        clock.advance(1)
        tap(factory, DEFAULT_PINS["next"], clock)
    assert rec.actions == [Action.NEXT_CORPUS, Action.NEXT_CORPUS]


def test_glitch_then_real_press(factory, clock) -> None:
    """A 1 ms spike whose release is filtered must not eat the next real press."""
    rec = Recorder()
    with make(factory, clock, rec, debounce_ms=30):
        pin = factory.pin(DEFAULT_PINS["previous"])
        clock.advance(1)
        pin.drive_low()
        clock.advance(0.001)
        pin.drive_high()  # filtered: logically still down
        clock.advance(2)
        tap(factory, DEFAULT_PINS["previous"], clock)
    assert rec.actions == [Action.PREVIOUS_CORPUS]


def test_zero_debounce_accepts_fast_presses(factory, clock) -> None:
    rec = Recorder()
    with make(factory, clock, rec, debounce_ms=0):
        pin = factory.pin(DEFAULT_PINS["volume_up"])
        for _ in range(3):
            pin.drive_low()
            clock.advance(0.001)
            pin.drive_high()
            clock.advance(0.001)
    assert rec.actions == [Action.VOLUME_UP] * 3


def test_shutdown_hold_is_off_by_default(factory, clock) -> None:
    assert ButtonsConfig().shutdown_hold_s == 0
    rec = Recorder()
    with ButtonControls.from_config(
        ButtonsConfig(hold_s=0.3), rec, pin_factory=factory, clock=clock
    ) as buttons:
        assert not buttons.shutdown_enabled
        pin = factory.pin(DEFAULT_PINS["next"])
        clock.advance(1)
        pin.drive_low()
        time.sleep(0.45)  # longer than any hold time in play
        clock.advance(0.45)
        pin.drive_high()
    assert rec.actions == [Action.NEXT_CORPUS]


def test_shutdown_hold_when_enabled(factory, clock) -> None:
    rec = Recorder()
    with make(factory, clock, rec, hold_s=0.3, shutdown_hold_s=0.05):
        pin = factory.pin(DEFAULT_PINS["next"])
        clock.advance(1)
        pin.drive_low()
        assert rec.wait_for(1) == [Action.SHUTDOWN]
        clock.advance(1)
        pin.drive_high()
        tap(factory, DEFAULT_PINS["next"], clock)
    assert rec.actions == [Action.SHUTDOWN, Action.NEXT_CORPUS]


def test_pins_from_the_config_are_used(factory, clock) -> None:
    cfg = ButtonsConfig(next=5, previous=6, volume_up=13, volume_down=19)
    rec = Recorder()
    with ButtonControls.from_config(cfg, rec, pin_factory=factory, clock=clock) as buttons:
        assert buttons.pins == {"next": 5, "previous": 6, "volume_up": 13, "volume_down": 19}
        # The default pins are not wired up at all.
        for pin in DEFAULT_PINS.values():
            factory.pin(pin).drive_low()
            clock.advance(0.1)
            factory.pin(pin).drive_high()
        assert rec.actions == []
        for pin in (5, 6, 13, 19):
            tap(factory, pin, clock)
    assert rec.actions == [
        Action.NEXT_CORPUS,
        Action.PREVIOUS_CORPUS,
        Action.VOLUME_UP,
        Action.VOLUME_DOWN,
    ]


def test_handler_exception_does_not_escape(factory, clock, caplog) -> None:
    def explode(action: Action) -> None:
        raise RuntimeError("boom")

    with make(factory, clock, Recorder()) as buttons:
        buttons._on_action = explode  # the callbacks call through this attribute
        tap(factory, DEFAULT_PINS["next"], clock)  # must not raise
    assert "button handler failed" in caplog.text


def test_close_releases_pins_and_is_idempotent(factory, clock) -> None:
    rec = Recorder()
    buttons = make(factory, clock, rec)
    buttons.close()
    buttons.close()
    tap(factory, DEFAULT_PINS["next"], clock)
    assert rec.actions == []
    with make(factory, clock, rec):  # the pins can be claimed again
        tap(factory, DEFAULT_PINS["next"], clock)
    assert rec.actions == [Action.NEXT_CORPUS]


def test_pin_in_use_is_a_controls_error(factory, clock) -> None:
    with (
        make(factory, clock, Recorder()),
        pytest.raises(ControlsError, match=r"GPIO17 \(buttons\.next\) is already in use"),
    ):
        make(factory, clock, Recorder())


def test_no_gpio_is_a_controls_error(monkeypatch) -> None:
    from gpiozero import Device
    from gpiozero.exc import BadPinFactory

    def no_factory():
        raise BadPinFactory("Unable to load any default pin factory!")

    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.setattr(Device, "_default_pin_factory", staticmethod(no_factory))
    with pytest.raises(ControlsError, match="no GPIO available") as info:
        ButtonControls(Recorder())
    assert info.value.__cause__ is None


def test_bad_roles_are_refused(factory) -> None:
    with pytest.raises(ControlsError, match="missing: volume_down"):
        pins = {"next": 1, "previous": 2, "volume_up": 3}
        ButtonControls(Recorder(), pins=pins, pin_factory=factory)


def test_gpio_status_never_raises(monkeypatch) -> None:
    from gpiozero import Device

    status = gpio_status()
    assert isinstance(status, str) and status.startswith("GPIO:")

    def weird():
        raise RuntimeError("something odd")

    monkeypatch.setattr(Device, "pin_factory", None)
    monkeypatch.setattr(Device, "_default_pin_factory", staticmethod(weird))
    assert gpio_status() == "GPIO: unavailable, something odd"

    monkeypatch.setattr(Device, "_default_pin_factory", staticmethod(MockFactory))
    assert gpio_status().startswith("GPIO: mock pin factory")


def test_edge_filter() -> None:
    clock = FakeClock()
    f = EdgeFilter(0.03, clock)
    assert f.accept()
    clock.advance(0.01)
    assert not f.accept()
    clock.advance(0.025)  # 25 ms after the previous (ignored) edge: still chatter
    assert not f.accept()
    clock.advance(0.031)
    assert f.accept()
    with pytest.raises(ValueError):
        EdgeFilter(-1)


# ----------------------------------------------------------------- keyboard


def read_all(text: str, **kwargs) -> list[Action]:
    rec = Recorder()
    kb = KeyboardControls(rec, io.StringIO(text), **kwargs)
    assert kb.mode == "lines"
    assert kb.join(2.0)
    kb.close()
    return rec.actions


def test_keyboard_lines_from_a_stream() -> None:
    assert read_all("n\n+\nq\n") == [Action.NEXT_CORPUS, Action.VOLUME_UP, Action.QUIT]


def test_keyboard_every_key() -> None:
    assert read_all("n\np\n+\n=\n-\nm\nt\nq\nN\nP\n") == [
        Action.NEXT_CORPUS,
        Action.PREVIOUS_CORPUS,
        Action.VOLUME_UP,
        Action.VOLUME_UP,
        Action.VOLUME_DOWN,
        Action.TOGGLE_MUTE,
        Action.CYCLE_SLEEP_TIMER,
        Action.QUIT,
        Action.NEXT_CORPUS,
        Action.PREVIOUS_CORPUS,
    ]


def test_keyboard_arrows_words_and_runs() -> None:
    text = "\x1b[A\n\x1b[B\n\x1b[C\n\x1bOD\n  Next \nmute\n++\n"
    assert read_all(text) == [
        Action.VOLUME_UP,
        Action.VOLUME_DOWN,
        Action.NEXT_CORPUS,
        Action.PREVIOUS_CORPUS,
        Action.NEXT_CORPUS,
        Action.TOGGLE_MUTE,
        Action.VOLUME_UP,
        Action.VOLUME_UP,
    ]


def test_keyboard_odd_input_is_ignored() -> None:
    text = (
        "\x00\x07\n\x1b[15~\n\x1b\nzzz\n\u00e9\u6f22\U0001f600\n"
        + "x" * 100000
        + "\n\x1b["
        + "1;" * 50
        + "A\nn"
    )
    assert read_all(text) == [Action.NEXT_CORPUS]


def test_keyboard_end_of_input_is_not_quit() -> None:
    assert read_all("") == []
    assert read_all("n") == [Action.NEXT_CORPUS]


def test_keyboard_handler_exception_keeps_reading(caplog) -> None:
    seen: list[Action] = []

    def flaky(action: Action) -> None:
        seen.append(action)
        if len(seen) == 1:
            raise RuntimeError("boom")

    kb = KeyboardControls(flaky, io.StringIO("n\np\n"))
    assert kb.join(2.0)
    assert seen == [Action.NEXT_CORPUS, Action.PREVIOUS_CORPUS]
    assert "keyboard action handler failed" in caplog.text


def test_keyboard_help_key_prints_help() -> None:
    out = io.StringIO()
    assert read_all("?\nn\n", help_out=out) == [Action.NEXT_CORPUS]
    assert out.getvalue() == help_text() + "\n"


def test_keyboard_from_a_pipe() -> None:
    r, w = os.pipe()
    rec = Recorder()
    with os.fdopen(r, "r") as stream:
        kb = KeyboardControls(rec, stream)
        assert kb.mode == "lines"
        os.write(w, b"n\n")
        assert rec.wait_for(1) == [Action.NEXT_CORPUS]
        os.write(w, b"-\nq\n")
        os.close(w)
        assert kb.join(2.0)
        kb.close()
    assert rec.actions == [Action.NEXT_CORPUS, Action.VOLUME_DOWN, Action.QUIT]


def test_keyboard_off_without_stream() -> None:
    kb = KeyboardControls(Recorder(), None)
    assert kb.mode == "off" and not kb.active
    kb.close()


def test_help_text_mentions_every_key() -> None:
    text = KeyboardControls.help_text()
    for token in ("n", "p", "+", "-", "m", "t", "q", "→", "←", "↑", "↓", "mute", "quit"):
        assert token in text


def test_decoder_sequences_split_across_reads() -> None:
    d = KeyDecoder()
    assert d.feed("\x1b") == [] and d.pending
    assert d.feed("[") == []
    assert d.feed("1;5C") == [Action.NEXT_CORPUS]  # Ctrl+→ is still →
    assert not d.pending
    assert d.feed("\x1bn") == []  # Alt+n: ignored
    assert d.feed("\x1b") == []
    d.flush()  # a lone ESC key
    assert d.feed("n") == [Action.NEXT_CORPUS]


def test_keyboard_on_a_terminal() -> None:
    """Single keys in cbreak mode on a pseudo-terminal; the mode is restored on close."""
    pty = pytest.importorskip("pty")
    import termios

    master, slave = pty.openpty()
    stream = os.fdopen(slave, "r")
    try:
        before = termios.tcgetattr(slave)
        rec = Recorder()
        kb = KeyboardControls(rec, stream, help_out=io.StringIO())
        assert kb.mode == "tty"
        during = termios.tcgetattr(slave)
        assert not during[3] & termios.ICANON and not during[3] & termios.ECHO
        os.write(master, b"n")  # no Enter needed
        assert rec.wait_for(1) == [Action.NEXT_CORPUS]
        os.write(master, b"\x1b[A")
        os.write(master, b"\x1b")  # lone ESC, then a key after a pause
        time.sleep(0.15)
        os.write(master, "q\u00e9".encode())
        assert rec.wait_for(3) == [Action.NEXT_CORPUS, Action.VOLUME_UP, Action.QUIT]
        kb.close()
        assert not kb.active
        assert termios.tcgetattr(slave) == before
    finally:
        stream.close()
        os.close(master)
