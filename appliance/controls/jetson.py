"""The four buttons on an NVIDIA Jetson, through NVIDIA's ``Jetson.GPIO``.

gpiozero has no pin driver for a Jetson. ``Jetson.GPIO`` (NVIDIA's, on PyPI and in
JetPack) knows every Jetson module's 40-pin header, and in its ``BCM`` mode takes the
same numbers as a Raspberry Pi for the same header pins (GPIO17 = header pin 11, ...):
the same ``[buttons]`` settings and the same wiring work on both. It was chosen over
``gpiod`` for that reason: with gpiod the user would have to name a gpiochip and a line
offset, which differ between Jetson modules.

A Jetson's pull-up resistors cannot be switched on from user space: each button needs
an external pull-up (10 kΩ from its pin to 3.3 V), so that the pin reads high while the
button is up and low while it is pressed, as on the Pi.

:class:`JetsonButtonControls` has the interface of
:class:`~appliance.controls.buttons.ButtonControls` (the same constructor arguments,
``from_config``, ``pins``, ``shutdown_enabled``, ``close``, a context manager) and the
same press / hold / release logic and contact-bounce filter. :class:`MockJetsonGPIO`
stands in for ``Jetson.GPIO`` in tests, as gpiozero's ``MockFactory`` does for gpiozero:
``drive_low(pin)`` / ``drive_high(pin)`` move a pin and call the edge callbacks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from appliance.config import BUTTON_ROLES, DEFAULT_PINS
from appliance.controls.actions import Action
from appliance.errors import ControlsError

if TYPE_CHECKING:
    from appliance.config import ButtonsConfig

log = logging.getLogger(__name__)

_INSTALL_HINT = "install it with: pip install 'soundscape-appliance[jetson]'"
PULL_UP_HINT = "a Jetson pin needs an external pull-up: 10 kΩ from the pin to 3.3 V (pin 1)"


def import_jetson_gpio() -> Any:
    """``Jetson.GPIO``, or :class:`ControlsError` saying why it cannot be had."""
    try:
        import Jetson.GPIO as GPIO
    except ImportError:
        raise ControlsError(
            f"Jetson buttons need Jetson.GPIO, which is not installed; {_INSTALL_HINT}"
        ) from None
    except Exception as exc:  # it refuses to import on a board it does not know
        raise ControlsError(f"Jetson.GPIO cannot run here: {exc}") from None
    return GPIO


class JetsonButtonControls:
    """The four buttons on a Jetson, live from construction until :meth:`close`.

    Arguments as :class:`~appliance.controls.buttons.ButtonControls`: ``pins`` are BCM
    numbers (the Pi's numbering, which ``Jetson.GPIO`` maps to the same header pins),
    ``hold_s`` and ``shutdown_hold_s`` in seconds, ``debounce_ms`` in milliseconds.
    ``gpio``: the ``Jetson.GPIO`` module, or a stand-in (:class:`MockJetsonGPIO`);
    None imports the real one. ``on_action`` is called from Jetson.GPIO's event thread
    and from hold timers: it must be quick.

    Raises :class:`ControlsError` when Jetson.GPIO is unavailable or a pin cannot be
    used; the app then carries on with the keyboard.
    """

    def __init__(
        self,
        on_action: Callable[[Action], None],
        *,
        pins: Mapping[str, int] = DEFAULT_PINS,
        hold_s: float = 1.0,
        debounce_ms: float = 30.0,
        shutdown_hold_s: float = 0.0,
        gpio: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from appliance.controls.buttons import _ButtonLogic, check_button_args, hold_plan

        check_button_args(pins, hold_s, debounce_ms, shutdown_hold_s)
        self._gpio = gpio if gpio is not None else import_jetson_gpio()
        self._on_action = on_action
        self.pins: dict[str, int] = {role: int(pins[role]) for role in BUTTON_ROLES}
        self.shutdown_enabled = shutdown_hold_s > 0
        self._closed = False
        self._lock = threading.Lock()
        self._timers: dict[str, threading.Timer] = {}
        self._logic: dict[str, Any] = {}
        self._hold_time: dict[str, float] = {}
        self._opened: list[int] = []
        g = self._gpio
        try:
            g.setwarnings(False)
            g.setmode(g.BCM)
            for role, (hold_time, hold_action) in hold_plan(hold_s, shutdown_hold_s).items():
                self._logic[role] = _ButtonLogic(role, debounce_ms / 1000.0, hold_action, clock)
                self._hold_time[role] = hold_time
                self._open(role)
        except BaseException:
            self.close()
            raise
        log.info("buttons on Jetson.GPIO (BCM numbers) %s; %s",
                 ", ".join(f"{role}={pin}" for role, pin in self.pins.items()), PULL_UP_HINT)

    @classmethod
    def from_config(
        cls,
        config: ButtonsConfig,
        on_action: Callable[[Action], None],
        *,
        gpio: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> JetsonButtonControls:
        """Buttons as the ``[buttons]`` section of the configuration describes them."""
        from appliance.controls.buttons import button_settings

        return cls(on_action, **button_settings(config), gpio=gpio, clock=clock)

    def _open(self, role: str) -> None:
        g, pin = self._gpio, self.pins[role]
        where = f"GPIO{pin} (buttons.{role})"
        try:
            g.setup(pin, g.IN)
            self._opened.append(pin)
            g.add_event_detect(pin, g.BOTH, callback=self._edge_callback(role))
            level = g.input(pin)
        except ValueError as exc:
            raise ControlsError(f"{where} cannot be used as a button here: {exc}") from None
        except (OSError, RuntimeError) as exc:
            raise ControlsError(
                f"cannot open {where}: {exc} (in use by another program? is this user in "
                "the 'gpio' group?)"
            ) from None
        if level == g.LOW:
            log.warning("%s reads low with its button up: is the button held, or is its "
                        "pull-up resistor missing? (%s)", where, PULL_UP_HINT)

    def _edge_callback(self, role: str) -> Callable[[int], None]:
        def callback(_channel: int) -> None:
            if self._closed:
                return
            try:
                self._edge(role)
            except Exception:  # never let an error escape into Jetson.GPIO's thread
                log.exception("button handler failed")

        return callback

    def _edge(self, role: str) -> None:
        """An edge on ``role``'s pin: its level now says whether it went down or up."""
        logic = self._logic[role]
        if self._gpio.input(self.pins[role]) == self._gpio.LOW:
            logic.pressed()
            if logic.hold_action is not None:
                self._start_hold_timer(role)
            return
        self._cancel_hold_timer(role)
        self._emit(logic.released())

    def _start_hold_timer(self, role: str) -> None:
        with self._lock:
            if role in self._timers or self._closed:
                return  # already timing this press (a bounce went low again)
            timer = threading.Timer(self._hold_time[role], self._hold_elapsed, args=(role,))
            timer.daemon = True
            self._timers[role] = timer
        timer.start()

    def _cancel_hold_timer(self, role: str) -> None:
        with self._lock:
            timer = self._timers.pop(role, None)
        if timer is not None:
            timer.cancel()

    def _hold_elapsed(self, role: str) -> None:
        with self._lock:
            self._timers.pop(role, None)
        if self._closed:
            return
        try:
            if self._gpio.input(self.pins[role]) == self._gpio.LOW:  # still down
                self._emit(self._logic[role].held())
        except Exception:
            log.exception("button hold handler failed")

    def _emit(self, action: Action | None) -> None:
        if action is not None and not self._closed:
            try:
                self._on_action(action)
            except Exception:
                log.exception("button handler failed")

    def close(self) -> None:
        """Stop the hold timers and release the pins. Safe to call twice."""
        self._closed = True
        with self._lock:
            timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            timer.cancel()
        opened, self._opened = self._opened, []
        for pin in opened:
            try:
                self._gpio.remove_event_detect(pin)
            except Exception as exc:
                log.debug("removing the edge detection of GPIO%d failed: %s", pin, exc)
        if opened:
            try:
                self._gpio.cleanup(opened)
            except Exception as exc:  # closing must not fail the shutdown path
                log.debug("releasing the Jetson pins failed: %s", exc)

    def __enter__(self) -> JetsonButtonControls:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def jetson_gpio_status(gpio: Any = None) -> str:
    """One line for ``soundscape doctor`` on a Jetson: Jetson.GPIO and the board. Never raises."""
    try:
        g = gpio if gpio is not None else import_jetson_gpio()
    except ControlsError as exc:
        return f"GPIO: unavailable, {exc}"
    except Exception as exc:  # pragma: no cover - belt and braces
        return f"GPIO: unknown ({type(exc).__name__}: {exc})"
    model = getattr(g, "model", "") or "a Jetson"
    version = getattr(g, "VERSION", "?")
    return f"GPIO: Jetson.GPIO {version} on {model} (BCM numbers; {PULL_UP_HINT})"


class MockJetsonGPIO:
    """A stand-in for the ``Jetson.GPIO`` module: pins that tests drive by hand.

    Pins idle high (as with the external pull-up); ``drive_low(pin)`` presses,
    ``drive_high(pin)`` releases, each calling the pin's edge callback on the calling
    thread, as Jetson.GPIO's event thread would. ``fail_setup`` maps a pin to the
    exception its ``setup`` raises. Only the calls the buttons use exist.
    """

    BCM = 11
    BOARD = 10
    IN = 1
    OUT = 0
    LOW = 0
    HIGH = 1
    RISING = 31
    FALLING = 32
    BOTH = 33
    VERSION = "mock"
    model = "a mock Jetson"
    #: BCM numbers a Jetson's 40-pin header has (as Jetson.GPIO maps them).
    VALID = frozenset(range(2, 28))

    def __init__(self, fail_setup: Mapping[int, Exception] | None = None) -> None:
        self.mode: int | None = None
        self.levels: dict[int, int] = {}
        self.callbacks: dict[int, Callable[[int], None]] = {}
        self.fail_setup = dict(fail_setup or {})
        self.cleaned: list[int] = []

    def setwarnings(self, _flag: bool) -> None:
        pass

    def setmode(self, mode: int) -> None:
        if self.mode is not None and self.mode != mode:
            raise ValueError("A different mode has already been set!")
        self.mode = mode

    def setup(self, channel: int, direction: int) -> None:
        if self.mode is None:
            raise RuntimeError("Please set pin numbering mode using GPIO.setmode")
        if channel in self.fail_setup:
            raise self.fail_setup[channel]
        if channel not in self.VALID:
            raise ValueError(f"Channel {channel} is invalid")
        if channel in self.levels:
            raise RuntimeError(f"Channel {channel} is already in use")
        assert direction == self.IN
        self.levels[channel] = self.HIGH

    def input(self, channel: int) -> int:
        return self.levels[channel]

    def add_event_detect(self, channel: int, edge: int,
                         callback: Callable[[int], None] | None = None) -> None:
        if channel not in self.levels:
            raise RuntimeError("You must setup() the GPIO channel first")
        assert edge == self.BOTH and callback is not None
        self.callbacks[channel] = callback

    def remove_event_detect(self, channel: int) -> None:
        self.callbacks.pop(channel, None)

    def cleanup(self, channels: list[int] | int | None = None) -> None:
        if channels is None:
            chosen = list(self.levels)
        elif isinstance(channels, int):
            chosen = [channels]
        else:
            chosen = list(channels)
        for channel in chosen:
            self.levels.pop(channel, None)
            self.callbacks.pop(channel, None)
            self.cleaned.append(channel)

    def _drive(self, channel: int, level: int) -> None:
        if self.levels.get(channel) == level:
            return
        self.levels[channel] = level
        callback = self.callbacks.get(channel)
        if callback is not None:
            callback(channel)

    def drive_low(self, channel: int) -> None:
        """Press: the pin goes low (to ground through the button)."""
        if channel in self.levels:
            self._drive(channel, self.LOW)

    def drive_high(self, channel: int) -> None:
        """Release: the pull-up brings the pin high again."""
        if channel in self.levels:
            self._drive(channel, self.HIGH)
