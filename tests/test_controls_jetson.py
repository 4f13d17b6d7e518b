"""The Jetson button backend (Jetson.GPIO, here its stand-in) and the Jetson camera path."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from test_controls import FakeClock, Recorder

from appliance.camera.jetson import csi_sensors, is_jetson, jetson_camera_path
from appliance.config import DEFAULT_PINS, ButtonsConfig
from appliance.controls.actions import Action
from appliance.controls.buttons import ButtonControls, button_backend, gpio_status
from appliance.controls.jetson import JetsonButtonControls, MockJetsonGPIO, jetson_gpio_status
from appliance.errors import ControlsError


@pytest.fixture
def gpio() -> MockJetsonGPIO:
    return MockJetsonGPIO()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def tap(gpio: MockJetsonGPIO, pin: int, clock: FakeClock, down_s: float = 0.15) -> None:
    clock.advance(0.5)
    gpio.drive_low(pin)
    clock.advance(down_s)
    gpio.drive_high(pin)


def make(gpio, clock, rec, **kwargs) -> JetsonButtonControls:
    return JetsonButtonControls(rec, gpio=gpio, clock=clock, **kwargs)


def test_each_short_press_gives_its_action_on_release(gpio, clock) -> None:
    rec = Recorder()
    with make(gpio, clock, rec) as buttons:
        assert gpio.mode == gpio.BCM  # the Pi's numbers: the same header pins
        assert buttons.pins == dict(DEFAULT_PINS)
        for role in ("next", "previous", "volume_up", "volume_down"):
            gpio.drive_low(DEFAULT_PINS[role])
            clock.advance(0.15)
            assert len(rec.actions) == ["next", "previous", "volume_up",
                                        "volume_down"].index(role)  # nothing on the press
            gpio.drive_high(DEFAULT_PINS[role])
    assert rec.actions == [Action.NEXT_CORPUS, Action.PREVIOUS_CORPUS, Action.VOLUME_UP,
                           Action.VOLUME_DOWN]
    assert sorted(gpio.cleaned) == sorted(DEFAULT_PINS.values())  # pins given back


def test_contact_bounce_counts_once(gpio, clock) -> None:
    rec = Recorder()
    with make(gpio, clock, rec, debounce_ms=30):
        pin = DEFAULT_PINS["volume_up"]
        clock.advance(1)
        for _ in range(5):  # 5 ms of chatter on the press, then on the release
            gpio.drive_low(pin)
            clock.advance(0.001)
            gpio.drive_high(pin)
            clock.advance(0.001)
        gpio.drive_low(pin)
        clock.advance(0.2)
        gpio.drive_high(pin)
    assert rec.actions == [Action.VOLUME_UP]


def test_a_hold_fires_once_while_held_and_no_press_after(gpio, clock) -> None:
    rec = Recorder()
    with make(gpio, clock, rec, hold_s=0.05):
        pin = DEFAULT_PINS["volume_down"]
        clock.advance(1)
        gpio.drive_low(pin)
        assert rec.wait_for(1) == [Action.TOGGLE_MUTE]  # while still down: heard at once
        time.sleep(0.15)
        clock.advance(1)
        gpio.drive_high(pin)
        tap(gpio, DEFAULT_PINS["volume_up"], clock)
    assert rec.actions == [Action.TOGGLE_MUTE, Action.VOLUME_UP]


def test_a_short_press_never_fires_the_hold(gpio, clock) -> None:
    rec = Recorder()
    with make(gpio, clock, rec, hold_s=0.3):
        tap(gpio, DEFAULT_PINS["volume_up"], clock)
        time.sleep(0.45)
    assert rec.actions == [Action.VOLUME_UP]


def test_shutdown_hold_only_when_enabled(gpio, clock) -> None:
    rec = Recorder()
    with make(gpio, clock, rec, hold_s=0.05) as buttons:
        assert not buttons.shutdown_enabled
        clock.advance(1)
        gpio.drive_low(DEFAULT_PINS["next"])
        time.sleep(0.2)
        clock.advance(1)
        gpio.drive_high(DEFAULT_PINS["next"])
    assert rec.actions == [Action.NEXT_CORPUS]
    rec, gpio = Recorder(), MockJetsonGPIO()
    with make(gpio, clock, rec, hold_s=0.3, shutdown_hold_s=0.05):
        clock.advance(1)
        gpio.drive_low(DEFAULT_PINS["next"])
        assert rec.wait_for(1) == [Action.SHUTDOWN]
        clock.advance(1)
        gpio.drive_high(DEFAULT_PINS["next"])
    assert rec.actions == [Action.SHUTDOWN]


def test_from_config_on_a_jetson_is_the_jetson_backend(gpio, clock, monkeypatch) -> None:
    monkeypatch.setenv("SOUNDSCAPE_BUTTONS", "jetson")
    import appliance.controls.jetson as jetson

    monkeypatch.setattr(jetson, "import_jetson_gpio", lambda: gpio)
    rec = Recorder()
    cfg = ButtonsConfig(next=5, previous=6, volume_up=13, volume_down=19)
    with ButtonControls.from_config(cfg, rec, clock=clock) as buttons:
        assert isinstance(buttons, JetsonButtonControls)
        assert buttons.pins == {"next": 5, "previous": 6, "volume_up": 13, "volume_down": 19}
        tap(gpio, 13, clock)
    assert rec.actions == [Action.VOLUME_UP]


def test_backend_choice(monkeypatch) -> None:
    monkeypatch.delenv("SOUNDSCAPE_BUTTONS", raising=False)
    assert button_backend() == ("jetson" if is_jetson() else "gpiozero")
    assert button_backend({"SOUNDSCAPE_BUTTONS": "gpiozero"}) == "gpiozero"
    assert button_backend({"SOUNDSCAPE_BUTTONS": "Jetson"}) == "jetson"
    with pytest.raises(ControlsError, match=r"SOUNDSCAPE_BUTTONS='wiringpi'.*gpiozero or jetson"):
        button_backend({"SOUNDSCAPE_BUTTONS": "wiringpi"})


def test_without_jetson_gpio_the_error_says_how_to_install(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_jetson(name, *args, **kwargs):
        if name.startswith("Jetson"):
            raise ImportError("No module named 'Jetson'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_jetson)
    with pytest.raises(ControlsError, match=r"Jetson.GPIO, which is not installed.*\[jetson\]"):
        JetsonButtonControls(Recorder())
    assert jetson_gpio_status().startswith("GPIO: unavailable, Jetson buttons need Jetson.GPIO")
    monkeypatch.setenv("SOUNDSCAPE_BUTTONS", "jetson")
    assert gpio_status().startswith("GPIO: unavailable, Jetson buttons need Jetson.GPIO")


def test_bad_pins_are_refused_with_the_role_and_nothing_kept(gpio) -> None:
    with pytest.raises(ControlsError, match=r"GPIO40 \(buttons.volume_down\) cannot be used"):
        JetsonButtonControls(Recorder(), pins={**DEFAULT_PINS, "volume_down": 40}, gpio=gpio)
    assert gpio.levels == {}  # the pins opened before it were given back
    busy = MockJetsonGPIO(fail_setup={27: RuntimeError("Channel 27 is already in use")})
    with pytest.raises(ControlsError, match=r"GPIO27 \(buttons.previous\).*already in use.*gpio"):
        JetsonButtonControls(Recorder(), gpio=busy)
    with pytest.raises(ControlsError, match="missing: volume_down"):
        JetsonButtonControls(Recorder(), pins={"next": 1, "previous": 2, "volume_up": 3},
                             gpio=gpio)


def test_a_pin_low_at_start_warns_of_a_missing_pull_up(gpio, caplog) -> None:
    class Floating(MockJetsonGPIO):
        def input(self, channel: int) -> int:
            return self.LOW if channel == DEFAULT_PINS["next"] else super().input(channel)

    with JetsonButtonControls(Recorder(), gpio=Floating()):
        pass
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "GPIO17 (buttons.next) reads low" in warned[0]
    assert "10 kΩ" in warned[0]


def test_an_error_in_the_handler_is_logged_not_raised(gpio, clock, caplog) -> None:
    def boom(_action: Action) -> None:
        raise RuntimeError("handler broke")

    with make(gpio, clock, boom):
        tap(gpio, DEFAULT_PINS["next"], clock)
    assert any("button handler failed" in r.getMessage() for r in caplog.records)


def test_after_close_edges_are_ignored(gpio, clock) -> None:
    rec = Recorder()
    buttons = make(gpio, clock, rec)
    callback = gpio.callbacks[DEFAULT_PINS["next"]]
    buttons.close()
    buttons.close()
    callback(DEFAULT_PINS["next"])  # a late event from Jetson.GPIO's thread
    assert rec.actions == []


# ------------------------------------------------------------------ camera path
def fake_cv2(gstreamer: bool, where: str = "/usr/lib/python3/dist-packages/cv2/__init__.py"):
    info = f"Video I/O:\n    GStreamer:                   {'YES (1.20.3)' if gstreamer else 'NO'}\n"
    return SimpleNamespace(__file__=where, __version__="4.8.0",
                           getBuildInformation=lambda: info)


def jetson_tree(tmp_path: Path, sensors: list[str]) -> dict:
    marker = tmp_path / "nv_tegra_release"
    marker.write_text("# R36 (release), REVISION: 4.0\n")
    dev, sysfs = tmp_path / "dev", tmp_path / "sys"
    dev.mkdir()
    for i, name in enumerate(sensors):
        (dev / f"video{i}").touch()
        (sysfs / f"video{i}").mkdir(parents=True)
        (sysfs / f"video{i}" / "name").write_text(name + "\n")
    return {"markers": (marker,), "dev_dir": dev, "sys_dir": sysfs}


def test_not_a_jetson_says_nothing(tmp_path: Path) -> None:
    assert jetson_camera_path(markers=(tmp_path / "none",)) == ""


def test_jetpack_opencv_with_a_csi_sensor(tmp_path: Path) -> None:
    tree = jetson_tree(tmp_path, ["vi-output, imx219 9-0010"])
    assert csi_sensors(tree["dev_dir"], tree["sys_dir"]) == ["vi-output, imx219 9-0010"]
    line = jetson_camera_path(**tree, import_cv2=lambda: fake_cv2(True))
    assert line.startswith("Jetson: CSI camera through GStreamer")
    assert "imx219" in line and "JetPack's (system site packages)" in line


def test_a_wheel_opencv_without_gstreamer_falls_back_to_usb(tmp_path: Path) -> None:
    tree = jetson_tree(tmp_path, ["vi-output, imx219 9-0010", "HD USB Camera"])
    where = "/opt/soundscape/.venv/lib/python3.10/site-packages/cv2/__init__.py"
    line = jetson_camera_path(**tree, import_cv2=lambda: fake_cv2(False, where))
    assert "has no GStreamer" in line and "a USB webcam is the camera" in line
    assert where in line and "system-site-packages" in line


def test_gstreamer_but_no_sensor_names_the_usual_causes(tmp_path: Path) -> None:
    tree = jetson_tree(tmp_path, ["HD USB Camera"])
    line = jetson_camera_path(**tree, import_cv2=lambda: fake_cv2(True))
    assert "no CSI sensor found" in line and "jetson-io" in line


def test_no_opencv_at_all(tmp_path: Path) -> None:
    def missing():
        raise ImportError("No module named 'cv2'")

    line = jetson_camera_path(**jetson_tree(tmp_path, []), import_cv2=missing)
    assert "OpenCV does not import" in line and "nvidia-opencv" in line


def test_the_hardware_guide_tells_jetson_builders_about_pull_ups() -> None:
    """The README's Jetson pull-up row names the buttons' header pins and 3.3 V pins."""
    import re

    from test_install_guide import HEADER_PIN, guide

    text = guide()
    row = next(line for line in text.splitlines() if line.startswith("| Jetson only: pull-ups"))
    match = re.search(r"each of pins ([\d, ]+) to 3\.3 V \(pin (\d+) or (\d+)\)", row)
    assert match, row
    assert {int(n) for n in re.findall(r"\d+", match.group(1))} == {
        HEADER_PIN[pin] for pin in DEFAULT_PINS.values()}
    assert {int(match.group(2)), int(match.group(3))} == {1, 17}  # the 3.3 V header pins
    assert "computer (Jetson)" in text and "10 kΩ" in text
