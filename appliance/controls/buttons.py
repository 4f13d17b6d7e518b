"""Four GPIO push buttons (gpiozero; on a Jetson, Jetson.GPIO), turned into :class:`Action`\\s.

Each button is wired between its GPIO pin and ground and read with the
internal pull-up (pressed = low). Mapping:

=============  =====================  ==========================================
button         short press            hold
=============  =====================  ==========================================
next           NEXT_CORPUS            SHUTDOWN after ``shutdown_hold_s`` (if > 0)
previous       PREVIOUS_CORPUS        --
volume_up      VOLUME_UP              CYCLE_SLEEP_TIMER after ``hold_s``
volume_down    VOLUME_DOWN            TOGGLE_MUTE after ``hold_s``
=============  =====================  ==========================================

A short press fires when the button is released, so a hold never also
counts as a press; a hold fires as soon as the hold time is reached (the user
hears the cue and can let go). Contact bounce is filtered here (see
:mod:`appliance.controls.debounce`), not by gpiozero.

``on_action`` is called from gpiozero's threads: it must be quick (the
engine's handler only puts the action on a queue). An exception it raises
is logged, never propagated into gpiozero.

Backends: gpiozero (Raspberry Pi: lgpio) here, and on an NVIDIA Jetson, where gpiozero
has no pin driver, :class:`~appliance.controls.jetson.JetsonButtonControls` behind the
same interface. :meth:`ButtonControls.from_config` chooses: the Jetson backend on a
Jetson, gpiozero elsewhere; ``$SOUNDSCAPE_BUTTONS`` (``gpiozero`` or ``jetson``) overrides.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from appliance.config import BUTTON_ROLES, DEFAULT_PINS
from appliance.controls.actions import Action
from appliance.controls.debounce import EdgeFilter
from appliance.errors import ControlsError

if TYPE_CHECKING:
    from appliance.config import ButtonsConfig
    from appliance.controls.jetson import JetsonButtonControls

log = logging.getLogger(__name__)

#: Action of a short press of each button.
PRESS_ACTIONS: Mapping[str, Action] = {
    "next": Action.NEXT_CORPUS,
    "previous": Action.PREVIOUS_CORPUS,
    "volume_up": Action.VOLUME_UP,
    "volume_down": Action.VOLUME_DOWN,
}

#: Action of a hold of each button (``next`` only when shutdown is enabled).
HOLD_ACTIONS: Mapping[str, Action] = {
    "next": Action.SHUTDOWN,
    "volume_up": Action.CYCLE_SLEEP_TIMER,
    "volume_down": Action.TOGGLE_MUTE,
}

_INSTALL_HINT = "install it with: pip install 'soundscape-appliance[pi]'"
BACKENDS = ("gpiozero", "jetson")


def check_button_args(pins: Mapping[str, int], hold_s: float, debounce_ms: float,
                      shutdown_hold_s: float) -> None:
    """:class:`ControlsError` unless ``pins`` has exactly the roles and the timings make sense."""
    missing = [role for role in BUTTON_ROLES if role not in pins]
    unknown = [role for role in pins if role not in BUTTON_ROLES]
    if missing or unknown:
        raise ControlsError(
            f"buttons need exactly the roles {', '.join(BUTTON_ROLES)}; "
            f"missing: {', '.join(missing) or 'none'}, unknown: {', '.join(unknown) or 'none'}"
        )
    if hold_s <= 0 or shutdown_hold_s < 0 or debounce_ms < 0:
        raise ControlsError(
            f"bad button timing: hold_s={hold_s}, shutdown_hold_s={shutdown_hold_s}, "
            f"debounce_ms={debounce_ms}"
        )


def button_settings(config: ButtonsConfig) -> dict[str, Any]:
    """The ``[buttons]`` section as the keyword arguments every backend takes (pins, hold
    and debounce times)."""
    return {"pins": {role: getattr(config, role) for role in BUTTON_ROLES},
            "hold_s": config.hold_s, "debounce_ms": config.debounce_ms,
            "shutdown_hold_s": config.shutdown_hold_s}


def hold_plan(hold_s: float, shutdown_hold_s: float) -> dict[str, tuple[float, Action | None]]:
    """Each role's hold time (s) and hold action, the same for every backend: ``next``
    holds for SHUTDOWN only when ``shutdown_hold_s`` is set (and then that long)."""
    plan: dict[str, tuple[float, Action | None]] = {}
    for role in BUTTON_ROLES:
        if role == "next":
            shutdown = shutdown_hold_s > 0
            plan[role] = (shutdown_hold_s if shutdown else hold_s,
                          HOLD_ACTIONS[role] if shutdown else None)
        else:
            plan[role] = (hold_s, HOLD_ACTIONS.get(role))
    return plan


def button_backend(environ: Mapping[str, str] = os.environ) -> str:
    """Which backend drives the buttons here: ``$SOUNDSCAPE_BUTTONS``, else ``jetson`` on a
    Jetson and ``gpiozero`` elsewhere. An unknown value is a :class:`ControlsError`."""
    chosen = environ.get("SOUNDSCAPE_BUTTONS", "").strip().lower()
    if chosen:
        if chosen not in BACKENDS:
            raise ControlsError(
                f"SOUNDSCAPE_BUTTONS={chosen!r} is not a button backend: use "
                + " or ".join(BACKENDS)
            )
        return chosen
    from appliance.camera.jetson import is_jetson

    return "jetson" if is_jetson() else "gpiozero"


class _ButtonLogic:
    """Press/hold/release state of one button, fed with raw edges; decides the action."""

    def __init__(
        self,
        role: str,
        debounce_s: float,
        hold_action: Action | None,
        clock: Callable[[], float],
    ) -> None:
        self.role = role
        self.hold_action = hold_action
        self._filter = EdgeFilter(debounce_s, clock)
        self._lock = threading.Lock()
        self._pressed = False  # debounced state
        self._held = False  # the hold action fired during this press

    def pressed(self) -> Action | None:
        """A falling edge (button went down). A press never fires by itself."""
        if not self._filter.accept():
            return None
        with self._lock:
            # Already down means the release before this press was lost in
            # chatter: start a new press either way.
            self._pressed = True
            self._held = False
        return None

    def released(self) -> Action | None:
        """A rising edge (button came up): a short press, unless it was a hold."""
        if not self._filter.accept():
            return None
        with self._lock:
            if not self._pressed:
                return None  # its press was lost in chatter: nothing trustworthy to report
            self._pressed = False
            if self._held:
                return None
        return PRESS_ACTIONS[self.role]

    def held(self) -> Action | None:
        """gpiozero reports the button down for the hold time: fire the hold action once."""
        if self.hold_action is None:
            return None
        with self._lock:
            # gpiozero has seen the pin low for the whole hold time, so the
            # button is down even if our debounced state missed the press.
            self._pressed = True
            if self._held:
                return None
            self._held = True
        return self.hold_action


class ButtonControls:
    """The four buttons, live from construction until :meth:`close`.

    ``on_action``: called with each :class:`Action` (from gpiozero's threads).
    ``pins``: role → BCM GPIO number (roles as in :data:`~appliance.config.BUTTON_ROLES`).
    ``hold_s``: hold time of the volume buttons (s). ``debounce_ms``: edges
    closer than this to the previous edge on the same pin are ignored (ms).
    ``shutdown_hold_s``: hold time of ``next`` for SHUTDOWN (s; 0 = no shutdown).
    ``pin_factory``: a gpiozero pin factory; None = gpiozero's default (lgpio on
    a Pi). ``clock``: time source for debouncing (s), injectable for tests.

    Raises :class:`ControlsError` when gpiozero or GPIO is unavailable, or a pin
    cannot be used; the app can then carry on with the keyboard only.
    """

    def __init__(
        self,
        on_action: Callable[[Action], None],
        *,
        pins: Mapping[str, int] = DEFAULT_PINS,
        hold_s: float = 1.0,
        debounce_ms: float = 30.0,
        shutdown_hold_s: float = 0.0,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_button_args(pins, hold_s, debounce_ms, shutdown_hold_s)
        try:
            from gpiozero import Button
        except ImportError:
            raise ControlsError(
                f"GPIO buttons need gpiozero, which is not installed; {_INSTALL_HINT}"
            ) from None

        self._on_action = on_action
        self.pins: dict[str, int] = {role: int(pins[role]) for role in BUTTON_ROLES}
        self.shutdown_enabled = shutdown_hold_s > 0
        self._buttons: dict[str, Any] = {}
        self._closed = False
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                for role, (hold_time, hold_action) in hold_plan(hold_s,
                                                                shutdown_hold_s).items():
                    logic = _ButtonLogic(role, debounce_ms / 1000.0, hold_action, clock)
                    button = self._open(Button, role, hold_time, pin_factory, caught)
                    self._buttons[role] = button
                    button.when_pressed = self._callback(logic.pressed)
                    button.when_released = self._callback(logic.released)
                    if hold_action is not None:
                        button.when_held = self._callback(logic.held)
        except BaseException:
            self.close()
            raise
        for warning in caught:  # e.g. gpiozero fell back from lgpio to its native factory
            log.warning("gpiozero: %s", str(warning.message).splitlines()[0])
        log.info(
            "buttons on GPIO %s",
            ", ".join(f"{role}={pin}" for role, pin in self.pins.items()),
        )

    @classmethod
    def from_config(
        cls,
        config: ButtonsConfig,
        on_action: Callable[[Action], None],
        *,
        pin_factory: Any = None,
        clock: Callable[[], float] = time.monotonic,
        backend: str | None = None,
    ) -> ButtonControls | JetsonButtonControls:
        """Buttons as the ``[buttons]`` section of the configuration describes them.

        ``backend``: ``"gpiozero"`` or ``"jetson"``; None = :func:`button_backend`
        (gpiozero whenever a ``pin_factory`` is given).
        """
        if backend is None:
            backend = "gpiozero" if pin_factory is not None else button_backend()
        if backend == "jetson":
            from appliance.controls.jetson import JetsonButtonControls

            return JetsonButtonControls.from_config(config, on_action, clock=clock)
        return cls(on_action, **button_settings(config), pin_factory=pin_factory, clock=clock)

    def _open(
        self, button_class: Any, role: str, hold_time: float, pin_factory: Any, caught: list
    ) -> Any:
        """Create one gpiozero Button, translating gpiozero's errors into ControlsError."""
        from gpiozero.exc import BadPinFactory, GPIOPinInUse, GPIOZeroError, PinError

        pin = self.pins[role]
        where = f"GPIO{pin} (buttons.{role})"
        try:
            return button_class(
                pin,
                pull_up=True,
                bounce_time=None,
                hold_time=hold_time,
                pin_factory=pin_factory,
            )
        except BadPinFactory as exc:
            tried = "; ".join(str(w.message) for w in caught)
            raise ControlsError(
                f"no GPIO available (not a Raspberry Pi, or lgpio is missing): {exc}"
                + (f" [{tried}]" if tried else "")
                + "; buttons are off, the keyboard still works"
            ) from None
        except GPIOPinInUse:
            raise ControlsError(
                f"{where} is already in use by another device or program"
            ) from None
        except (PinError, GPIOZeroError) as exc:
            raise ControlsError(f"{where} cannot be used as a button: {exc}") from None
        except (OSError, RuntimeError) as exc:
            raise ControlsError(
                f"cannot open {where}: {exc} (is this user in the 'gpio' group?)"
            ) from None

    def _callback(self, step: Callable[[], Action | None]) -> Callable[[], None]:
        """Wrap a logic step as a gpiozero callback that forwards its action, if any."""

        def callback() -> None:
            if self._closed:
                return
            try:
                action = step()
                if action is not None:
                    self._on_action(action)
            except Exception:  # never let an error escape into gpiozero's thread
                log.exception("button handler failed")

        return callback

    def close(self) -> None:
        """Release the GPIO pins and stop gpiozero's threads. Safe to call twice."""
        self._closed = True
        buttons, self._buttons = self._buttons, {}
        for button in buttons.values():
            try:
                button.close()
            except Exception as exc:  # closing must not fail the shutdown path
                log.debug("closing button failed: %s", exc)

    def __enter__(self) -> ButtonControls:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_FACTORY_NAMES = {
    "LGPIOFactory": "lgpio",
    "RPiGPIOFactory": "rpigpio",
    "PiGPIOFactory": "pigpio",
    "NativeFactory": "native",
    "MockFactory": "mock",
}


def _describe_factory(factory: Any) -> str:
    cls = type(factory).__name__
    text = f"{_FACTORY_NAMES.get(cls, cls)} pin factory"
    with contextlib.suppress(Exception):
        text += f" on {factory.board_info.description}"
    return text


def gpio_status() -> str:
    """One line for ``soundscape doctor``: which pin factory buttons would use, or why none.

    Never raises. On a Jetson: Jetson.GPIO's status instead (gpiozero has no driver there).
    """
    try:
        if button_backend() == "jetson":
            from appliance.controls.jetson import jetson_gpio_status

            return jetson_gpio_status()
    except ControlsError as exc:
        return f"GPIO: {exc}"
    try:
        try:
            import gpiozero  # noqa: F401
            from gpiozero import Device
        except ImportError:
            return f"GPIO: unavailable, gpiozero is not installed ({_INSTALL_HINT})"
        if Device.pin_factory is not None:
            return f"GPIO: {_describe_factory(Device.pin_factory)} (in use)"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                factory = Device._default_pin_factory()
            except Exception as exc:
                tried = "; ".join(str(w.message) for w in caught)
                return f"GPIO: unavailable, {exc}" + (f" ({tried})" if tried else "")
        try:
            text = f"GPIO: {_describe_factory(factory)}"
            notes = [str(w.message).splitlines()[0] for w in caught]
            if notes:
                text += f" ({'; '.join(notes)})"
            return text
        finally:
            with contextlib.suppress(Exception):
                factory.close()
    except Exception as exc:  # pragma: no cover - belt and braces: doctor must not crash
        return f"GPIO: unknown ({type(exc).__name__}: {exc})"
