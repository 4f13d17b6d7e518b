"""Checks of the hardware: camera, sound card, GPIO buttons, speech.

Missing hardware is a problem but not fatal: the appliance has a fallback for each
(the demo slideshow, a WAV file, the keyboard, tones without words).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
from pathlib import Path

from appliance.config import Config
from appliance.doctor.base import Check, ok, problem, user_name


# ------------------------------------------------------------------ camera
def check_camera(config: Config) -> Check:
    """Cameras found (nothing is opened); none is not fatal: the demo slideshow stands in.
    On a Jetson the line also says which camera path it has (JetPack's GStreamer OpenCV
    for the CSI camera, or a USB webcam)."""
    from dataclasses import replace

    from appliance.camera.jetson import jetson_camera_path

    found = _check_camera(config)
    jetson = jetson_camera_path()
    return replace(found, detail=f"{found.detail}; {jetson}") if jetson else found


def _check_camera(config: Config) -> Check:
    from appliance.camera.factory import detect_cameras, v4l2_nodes

    name = "camera"
    source = config.camera.source.strip()
    kind = source.partition(":")[0].lower()
    if kind in ("slideshow", "video"):
        return ok(name, f"the configuration uses a simulated camera: {source}")
    found = detect_cameras()
    if found:
        chosen = "" if kind == "auto" else f"; the configuration asks for {source}"
        missing = kind != "auto" and not any(line.startswith(kind) for line in found)
        detail = f"{len(found)} found: " + "; ".join(found) + chosen
        if missing:
            return problem(
                name, detail + ", which was not found",
                'set [camera] source = "auto" or one of the specs listed, in the configuration',
            )
        return ok(name, detail)
    denied = [n.path for n in v4l2_nodes() if n.capture is None and n.query_error]
    if denied:
        return problem(
            name,
            f"video devices exist ({', '.join(denied)}) but cannot be opened by this user; "
            "the demo slideshow is shown to the model instead",
            f"add the user to group video: sudo usermod -aG video {user_name()} "
            "(then log in again)",
        )
    return problem(
        name,
        "no camera found: the appliance will show the model the demo slideshow instead",
        "connect a Raspberry Pi camera module (ribbon cable, power off first) or a USB webcam; "
        "check with: rpicam-hello --list-cameras, or ls /dev/video*",
    )


# ------------------------------------------------------------------- sound
def sound_cards() -> list[str]:
    """The kernel's sound cards, one line each (the audio engineer's helper when present)."""
    try:
        from appliance.audio.alsa import proc_asound_cards
    except ImportError:  # pragma: no cover - the module ships with the package
        try:
            text = Path("/proc/asound/cards").read_text(errors="replace")
        except OSError:
            return []
        return [line.strip() for line in text.splitlines() if re.match(r"\s*\d+\s+\[", line)]
    return proc_asound_cards()


def sound_card_present() -> bool:
    """Whether the kernel lists at least one sound card."""
    try:
        from appliance.audio.factory import sound_card_present as present
    except ImportError:
        return bool(sound_cards())
    try:
        return bool(present())
    except Exception:
        return bool(sound_cards())


def _card_of(pcm: str) -> str | None:
    """The card a PCM name points at (``hw:1``, ``plughw:CARD=Device,DEV=0``), or None."""
    match = re.match(r"^(?:plug)?hw:(?:CARD=)?([^,]+)", pcm)
    return match.group(1) if match else None


def check_sound(config: Config) -> Check:
    """ALSA cards and the PCM the configuration will open."""
    name = "sound card"
    device = config.audio.device.strip()
    cards = sound_cards()
    if device.startswith("wav:") or device == "paced":
        return ok(name, f"the configuration sends no sound to a card ({device}); "
                         f"{len(cards)} card(s) present")
    pcm = device.partition(":")[2] if device.startswith("alsa:") else "default"
    if not cards:
        return problem(
            name,
            "no sound card found: the appliance would write its sound to a WAV file "
            "instead of playing it",
            "plug in a USB sound card (DAC) or headphones, or enable the I2S hat in "
            "/boot/firmware/config.txt; check with: aplay -l",
        )
    listing = "; ".join(cards)
    if importlib.util.find_spec("alsaaudio") is None:
        from appliance.audio.alsa import PYALSAAUDIO_FIX

        return problem(
            name, f"{listing}; but pyalsaaudio is missing, so the sound would go to a WAV file",
            PYALSAAUDIO_FIX,
        )
    card = _card_of(pcm)
    if card is not None:
        ids = {c.split()[1] for c in cards} | {
            c.split("[", 1)[1].split("]", 1)[0].strip() for c in cards if "[" in c
        }
        if card not in ids:
            return problem(
                name, f"{listing}; the configuration opens {pcm}, but there is no card {card}",
                'list the cards with: aplay -l, then set [audio] device = '
                '"alsa:plughw:CARD=<name>" in the configuration',
            )
    snd = Path("/dev/snd")
    controls = sorted(snd.glob("controlC*")) if snd.is_dir() else []
    if controls and not os.access(controls[0], os.R_OK | os.W_OK):
        return problem(
            name, f"{listing}; but this user may not open /dev/snd",
            f"add the user to group audio: sudo usermod -aG audio {user_name()} "
            "(then log in again)",
        )
    return ok(name, f"{listing}; the appliance opens ALSA device {pcm!r}")


# -------------------------------------------------------------------- gpio
def _gpio_reason(status: str) -> str:
    """gpiozero's long fallback chain, shortened to what a person can act on."""
    reasons = []
    if "No module named 'lgpio'" in status:
        reasons.append("lgpio is not installed")
    if "unable to locate Pi revision" in status or "not a Raspberry Pi" in status.lower():
        reasons.append("this does not look like a Raspberry Pi")
    if "gpiozero is not installed" in status:
        reasons.append("gpiozero is not installed")
    if "ermission" in status:
        reasons.append("permission denied on /dev/gpiochip*")
    if not reasons:
        reasons.append(status.removeprefix("unavailable, ").split(" (")[0])
    return "; ".join(reasons)


def check_gpio(config: Config) -> Check:
    """GPIO availability and pin factory (via :func:`gpio_status`)."""
    from appliance.controls.buttons import gpio_status

    name = "GPIO buttons"
    if not config.buttons.enabled:
        return ok(name, "buttons are switched off in the configuration ([buttons] enabled)")
    pins = ", ".join(f"{role}=GPIO{pin}" for role, pin in config.pins.items())
    status = gpio_status().removeprefix("GPIO: ")
    if status.startswith(("unavailable", "unknown")):
        return problem(
            name,
            f"no GPIO ({_gpio_reason(status)}); the buttons ({pins}) will not work",
            "on a Raspberry Pi: sudo apt install python3-lgpio (the venv sees the system's "
            "packages; scripts/install-pi does this) and make sure the user is in group gpio; "
            "elsewhere, use the keyboard in a terminal",
        )
    return ok(name, f"{status}; buttons on {pins}")


# ------------------------------------------------------------------ speech
def check_speech() -> Check:
    """espeak-ng speaks every state change; without it the user only hears tones."""
    from appliance.cues import espeak_available

    if espeak_available():
        return ok("speech", f"espeak-ng found ({shutil.which('espeak-ng')})")
    return problem(
        "speech", "espeak-ng is not installed: button presses give tones but no words",
        "sudo apt install espeak-ng",
    )
