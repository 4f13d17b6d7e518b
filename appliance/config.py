"""The configuration file: every key, its default, its unit and its allowed range.

The file is TOML (``/etc/soundscape/config.toml`` unless ``--config PATH``
says otherwise). Every key is declared exactly once, below, as a field of a
frozen dataclass whose metadata carries the key's documentation and its
allowed values. ``config.example.toml`` at the top of the repository is
rendered from these declarations (``python -m appliance.config >
config.example.toml``) and a test checks that the two agree.

A key the file does not set keeps its default, so an empty file (or no file
at all at the default location) means "all defaults". Anything the loader
cannot accept -- an unknown key, a wrong type, a value out of range, a TOML
syntax error -- raises :class:`~appliance.errors.ConfigError` with a message
that names the dotted key (``audio.block_size``), the file and what is
allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

from appliance import DEFAULT_MODEL
from appliance.camera.base import DEFAULT_FRAME_SIZE
from appliance.errors import ConfigError
from appliance.tomlcompat import tomllib

#: Where the appliance looks for its configuration when ``--config`` is not given.
DEFAULT_CONFIG_PATH = Path("/etc/soundscape/config.toml")

#: The four button roles, in the order the buttons sit on the box.
BUTTON_ROLES: tuple[str, ...] = ("next", "previous", "volume_up", "volume_down")

#: Default wiring: BCM GPIO number of each button (the other leg goes to ground).
#: The README quotes these numbers; a test checks that it does so correctly.
DEFAULT_PINS: Mapping[str, int] = MappingProxyType(
    {"next": 17, "previous": 27, "volume_up": 22, "volume_down": 23}
)

#: Corpora shipped with the appliance, in button order.
DEFAULT_CORPORA: tuple[str, ...] = ("woods_and_water", "night", "farm", "harbour", "world")

# ---------------------------------------------------------------------------
# Field declarations
# ---------------------------------------------------------------------------

#: A check run on one value after its type is known; returns an error fragment
#: ("must be a power of two") or None when the value is fine.
Check = Callable[[Any], "str | None"]


def _key(
    default: Any,
    doc: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[Any, ...] | None = None,
    check: Check | None = None,
) -> Any:
    """Declare one configuration key: its default, its documentation and its limits.

    ``lo``/``hi`` bound a number (or every item of a list of numbers),
    inclusive; ``choices`` lists the only accepted values; ``check`` is any
    further test. The documentation ends up in ``config.example.toml``.
    """
    meta = {"doc": doc, "lo": lo, "hi": hi, "choices": choices, "check": check}
    return field(default=default, metadata=meta)


def _prefixed(*exact: str, prefixes: tuple[str, ...]) -> Check:
    """Accept one of ``exact`` or ``prefix:<something non-empty>``."""

    def check(value: str) -> str | None:
        if value in exact:
            return None
        for prefix in prefixes:
            if value.startswith(prefix) and value[len(prefix):].strip():
                return None
        forms = list(exact) + [f"{p}<...>" for p in prefixes]
        return "must be one of " + ", ".join(forms)

    return check


def _power_of_two(value: int) -> str | None:
    return None if value > 0 and value & (value - 1) == 0 else "must be a power of two"


def _non_empty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def _distinct_names(value: tuple[str, ...]) -> str | None:
    if any(not item.strip() for item in value):
        return "must not contain empty names"
    dupes = sorted({item for item in value if value.count(item) > 1})
    return f"lists {', '.join(dupes)} more than once" if dupes else None


def _distinct_numbers(value: tuple[int, ...]) -> str | None:
    if not value:
        return "must list at least one choice"
    dupes = sorted({item for item in value if value.count(item) > 1})
    return f"lists {', '.join(map(str, dupes))} more than once" if dupes else None


def _shutdown_hold(value: float) -> str | None:
    if value == 0 or 3 <= value <= 30:
        return None
    return "is out of range: allowed 0 (off) or 3–30"


# ---------------------------------------------------------------------------
# The schema
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CorporaConfig:
    """Which reference corpora the next/previous buttons step through."""

    TITLE: ClassVar[str] = "Reference corpora (sound worlds) and their button order"

    order: tuple[str, ...] = _key(
        DEFAULT_CORPORA,
        "Corpora in button order: names of corpora in the library, or directories. "
        "'next' steps forward through this list, 'previous' back; both wrap around.",
        check=_distinct_names,
    )
    dir: str = _key(
        "",
        "An extra folder of your own corpora; each subfolder is one corpus, appended "
        'after "order". "" = none.',
    )


@dataclass(frozen=True)
class CameraConfig:
    """Where frames come from and how often they are looked at."""

    TITLE: ClassVar[str] = "Camera"

    source: str = _key(
        "auto",
        "auto | picamera2 | v4l2:/dev/video0 | gstreamer:<pipeline> | video:<path> | "
        "slideshow:<folder>. auto = the Pi camera if present, else the first V4L2 device.",
        check=_prefixed(
            "auto",
            "picamera2",
            prefixes=("v4l2:", "gstreamer:", "video:", "slideshow:"),
        ),
    )
    fps: float = _key(4.0, "Frames looked at per second (frames/s).", lo=0.2, hi=30)
    width: int = _key(
        DEFAULT_FRAME_SIZE[0],
        "Capture width (pixels). The model sees a 224×224 centre square: a frame a little "
        "larger lets the camera's hardware scaler do the downscale.",
        lo=64,
        hi=4096,
    )
    height: int = _key(DEFAULT_FRAME_SIZE[1], "Capture height (pixels).", lo=64, hi=4096)
    slideshow_seconds: float = _key(
        8.0, "With source = slideshow:<folder>, how long each picture is shown (s).", lo=1, hi=600
    )


@dataclass(frozen=True)
class VisionConfig:
    """When a camera frame is worth an embedding (appliance.vision.change)."""

    TITLE: ClassVar[str] = "Vision: embed a frame only when the view has changed"

    change_threshold: float = _key(
        8.0,
        "How different the view must be from the last embedded frame to be embedded at "
        "once: mean absolute difference of 8×8 grey thumbnails (levels of 255). Sensor "
        "noise measures under 1, another scene 15–100.",
        lo=0.5,
        hi=100,
    )
    settle_threshold: float = _key(
        4.0,
        "After a change, frames keep being embedded while they still differ this much "
        "(levels of 255) from the last embedded one; at most change_threshold.",
        lo=0.5,
        hi=100,
    )
    refresh_s: float = _key(
        12.0,
        "Embed a frame at least this often, even when the view looks unchanged (s): the "
        "longest a change the measure cannot see (a slow change of light or colour) waits. "
        "5 embeddings a minute on a still view, against about 57 on a view that changes "
        "every 2 s and 240 without rest (at 4 frames/s).",
        lo=1,
        hi=120,
    )
    still_smoothing_s: float = _key(
        10.0,
        "On a view that has not changed, each refresh moves p this slowly towards the new "
        "estimate (time constant, s), so sensor noise does not make the sound shift; "
        "0 = take each estimate as it is. A change of view is always taken at once.",
        lo=0,
        hi=120,
    )


@dataclass(frozen=True)
class AudioConfig:
    """The sound card and how audio is handed to it."""

    TITLE: ClassVar[str] = "Audio output"

    device: str = _key(
        "auto",
        "auto | alsa:<pcm> | wav:<path> | paced. auto = the ALSA default device; "
        "wav:<path> records to a file; paced = no sound, real-time pacing (for tests).",
        check=_prefixed("auto", "paced", prefixes=("alsa:", "wav:")),
    )
    sample_rate: int = _key(
        48000,
        "Sample rate (Hz): the rate every corpus is built at, so nothing plays at the wrong "
        "pitch (a card that runs at 44100 Hz gets converted audio from ALSA's default device).",
        choices=(48000,),
    )
    block_size: int = _key(
        512, "Frames per audio block (samples); a power of two.", lo=64, hi=2048,
        check=_power_of_two,
    )
    periods: int = _key(
        4, "ALSA periods (blocks) in the device buffer; more = safer, more latency.",
        lo=2, hi=16,
    )
    sample_format: str = _key(
        "S16_LE", "Sample format sent to the card.", choices=("S16_LE", "S32_LE")
    )


@dataclass(frozen=True)
class SynthConfig:
    """The granular synthesizer."""

    TITLE: ClassVar[str] = "Granular synthesizer"

    grain_min_ms: int = _key(50, "Shortest grain (ms).", lo=10, hi=500)
    grain_max_ms: int = _key(
        100, "Longest grain (ms); at least grain_min_ms.", lo=10, hi=500
    )
    grains_per_s: int = _key(100, "Grains started per second (grains/s).", lo=1, hi=400)
    pan_spread: float = _key(
        0.6, "Stereo spread of the grains: 0 = all centre, 1 = full left/right.", lo=0, hi=1
    )
    p_smoothing_s: float = _key(
        0.2,
        "Time constant (s) with which the grains follow a new p; 0 = none. With vision "
        "that rests a still view's p hardly moves, so this only sets how quickly the sound "
        "answers a change of view: 90 % of the way in 2.3 × this.",
        lo=0,
        hi=10,
    )
    crossfade_s: float = _key(
        1.5, "Crossfade when switching corpus (s); 0 = cut.", lo=0, hi=10
    )
    pan_from_camera: float = _key(
        0.8,
        "Where a sound plays left or right follows where its match is in the camera frame: "
        "a match at the frame's edge plays this far out (0 = off, every sound around the "
        "centre; 1 = fully left or right).",
        lo=0,
        hi=1,
    )
    level_balance: float = _key(
        0.5,
        "How much the loudness differences inside a corpus are evened out: 0 = the "
        "recordings' own levels, 1 = every part equally loud; 0.5 halves the jump (in dB) "
        "when the camera turns from birdsong to a waterfall.",
        lo=0,
        hi=1,
    )
    seed: int = _key(
        0, "Random seed for grain placement; 0 = a new random seed at every start.",
        lo=0, hi=2**32 - 1,
    )


@dataclass(frozen=True)
class VolumeConfig:
    """Loudness and its buttons."""

    TITLE: ClassVar[str] = "Volume"

    initial: float = _key(
        0.6, "Volume on the very first start (0–1); later starts resume the saved volume.",
        lo=0, hi=1,
    )
    step: float = _key(0.1, "Change per volume button press (0–1 scale).", lo=0.01, hi=0.5)
    limit_cue: bool = _key(
        True, "Play a cue when volume up/down is pressed at the top/bottom of the range."
    )


@dataclass(frozen=True)
class ButtonsConfig:
    """The four push buttons (BCM GPIO numbers, each wired to ground)."""

    TITLE: ClassVar[str] = "Buttons: BCM GPIO numbers, each button wired between the pin and ground"

    enabled: bool = _key(True, "Use the GPIO buttons (false = keyboard only).")
    next: int = _key(
        DEFAULT_PINS["next"], "Next corpus (hold for shutdown_hold_s: shut down).", lo=0, hi=27
    )
    previous: int = _key(DEFAULT_PINS["previous"], "Previous corpus.", lo=0, hi=27)
    volume_up: int = _key(
        DEFAULT_PINS["volume_up"], "Volume up (hold for hold_s: cycle the sleep timer).",
        lo=0, hi=27,
    )
    volume_down: int = _key(
        DEFAULT_PINS["volume_down"], "Volume down (hold for hold_s: mute / unmute).", lo=0, hi=27
    )
    hold_s: float = _key(
        1.0, "How long a press must last to count as a hold (s).", lo=0.3, hi=10
    )
    debounce_ms: int = _key(
        30, "Contact bounce filter: edges closer than this are ignored (ms).", lo=0, hi=500
    )
    shutdown_hold_s: float = _key(
        0.0, "Hold 'next' this long to shut the machine down (s); 0 = off, else 3–30.",
        check=_shutdown_hold,
    )


@dataclass(frozen=True)
class TimerConfig:
    """The sleep timer."""

    TITLE: ClassVar[str] = "Sleep timer"

    choices_min: tuple[int, ...] = _key(
        (0, 15, 30, 60),
        "Durations a hold of volume_up cycles through (min); 0 = off.", lo=0, hi=1440,
        check=_distinct_numbers,
    )
    fade_s: float = _key(60.0, "Fade-out at the end of the timer (s).", lo=1, hi=600)


@dataclass(frozen=True)
class ModelConfig:
    """The image embedding network."""

    TITLE: ClassVar[str] = "Image model"

    path: str = _key("", 'TFLite model file; "" = the bundled models/resnet50_int8.tflite.')
    threads: int = _key(2, "CPU threads for the model.", lo=1, hi=8)

    def resolved_path(self) -> Path:
        """The model file to load: ``path`` (``~`` expanded) or the bundled model."""
        return Path(self.path).expanduser() if self.path else DEFAULT_MODEL


@dataclass(frozen=True)
class ViewConfig:
    """The optional web page showing what the camera sees."""

    TITLE: ClassVar[str] = "Web view"

    enabled: bool = _key(False, "Serve a page showing the camera frame and the match.")
    port: int = _key(8080, "TCP port of the page.", lo=1024, hi=65535)
    bind: str = _key(
        "127.0.0.1", 'Address to listen on; "0.0.0.0" = every network interface.',
        check=_non_empty,
    )


@dataclass(frozen=True)
class StateConfig:
    """Where the appliance remembers corpus, volume, mute and timer across restarts."""

    TITLE: ClassVar[str] = "Saved state"

    path: str = _key(
        "",
        'State file; "" = $STATE_DIRECTORY/state.json under systemd, else '
        "~/.local/state/soundscape/state.json.",
    )

    def resolved_path(self) -> Path:
        """The state file to use: ``path`` (``~`` expanded) or the default location."""
        from appliance.state import default_state_path

        return Path(self.path).expanduser() if self.path else default_state_path()


@dataclass(frozen=True)
class Config:
    """The whole configuration: one attribute per ``[section]`` of the file."""

    corpora: CorporaConfig = field(default_factory=CorporaConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    vision: VisionConfig = field(default_factory=VisionConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    synth: SynthConfig = field(default_factory=SynthConfig)
    volume: VolumeConfig = field(default_factory=VolumeConfig)
    buttons: ButtonsConfig = field(default_factory=ButtonsConfig)
    timer: TimerConfig = field(default_factory=TimerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    view: ViewConfig = field(default_factory=ViewConfig)
    state: StateConfig = field(default_factory=StateConfig)

    @classmethod
    def default(cls) -> Config:
        """Every key at its default."""
        return cls()

    @property
    def pins(self) -> dict[str, int]:
        """Button role → BCM GPIO number, in :data:`BUTTON_ROLES` order."""
        return {role: getattr(self.buttons, role) for role in BUTTON_ROLES}


#: Section name → its dataclass, in file order.
SECTIONS: Mapping[str, type] = MappingProxyType(
    {f.name: f.default_factory for f in dataclasses.fields(Config)}  # type: ignore[misc]
)


def all_keys() -> list[str]:
    """Every dotted key the file may contain (``"audio.block_size"``, ...)."""
    return [
        f"{section}.{f.name}"
        for section, cls in SECTIONS.items()
        for f in dataclasses.fields(cls)
    ]


# ---------------------------------------------------------------------------
# Loading and checking
# ---------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    """A value as it would be written in TOML (for messages and the example file)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, int) and abs(value) >= 10**30:  # a message stays one short line
        return f"{str(value)[:12]}… ({len(str(abs(value)))} digits)"
    return str(value)


def _num(value: float | None) -> str:
    """A range bound without a trailing ``.0`` (``10``, ``0.2``)."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _item_type(annotation: str) -> type | None:
    """``"tuple[int, ...]"`` → ``int``; anything that is not a tuple → None."""
    if annotation.startswith("tuple["):
        return {"int": int, "str": str}[annotation[6:].split(",")[0].strip()]
    return None


def _convert(key: str, annotation: str, raw: Any, where: str) -> Any:
    """Check the TOML type of ``raw`` against the field's annotation; return the Python value."""

    def wrong(expected: str) -> ConfigError:
        return ConfigError(
            f"{key} in {where} must be {expected}, not {_type_name(raw)} ({_fmt(raw)})"
        )

    item = _item_type(annotation)
    if item is not None:
        if not isinstance(raw, list):
            raise wrong(f"a list of {_TYPE_NAMES[item].split(' ', 1)[1]}s")
        for value in raw:
            if not isinstance(value, item) or isinstance(value, bool):
                raise ConfigError(
                    f"{key} in {where} must be a list of {_TYPE_NAMES[item].split(' ', 1)[1]}s; "
                    f"{_fmt(value)} is {_type_name(value)}"
                )
        return tuple(raw)
    expected = {"str": str, "int": int, "float": float, "bool": bool}[annotation]
    if expected is bool:
        if not isinstance(raw, bool):
            raise wrong("true or false")
        return raw
    if isinstance(raw, bool):
        raise wrong(_TYPE_NAMES[expected])
    if expected is float and isinstance(raw, int):
        return float(raw)
    if not isinstance(raw, expected):
        raise wrong(_TYPE_NAMES[expected])
    return raw


def _check_value(key: str, value: Any, meta: Mapping[str, Any], where: str) -> None:
    """Check one converted value against its declared range, choices and check."""
    lo, hi, choices, check = meta["lo"], meta["hi"], meta["choices"], meta["check"]
    items = value if isinstance(value, tuple) else (value,)
    if lo is not None or hi is not None:
        for item in items:
            # Written so that NaN fails too.
            if not ((lo is None or item >= lo) and (hi is None or item <= hi)):
                what = f"{key} = {_fmt(value)}"
                if isinstance(value, tuple):
                    what += f" (the {_fmt(item)})"
                raise ConfigError(
                    f"{what} in {where} is out of range: allowed {_num(lo)}–{_num(hi)}"
                )
    if choices is not None and value not in choices:
        raise ConfigError(
            f"{key} = {_fmt(value)} in {where} is not allowed: choose one of "
            + ", ".join(_fmt(c) for c in choices)
        )
    if check is not None:
        problem = check(value)
        if problem:
            raise ConfigError(f"{key} = {_fmt(value)} in {where} {problem}")


def validate_config(config: Config, where: str = "the configuration") -> Config:
    """Check every value of ``config`` and the rules that tie keys together.

    ``where`` names the source in messages (normally the file). Returns
    ``config`` unchanged, or raises :class:`ConfigError`.
    """
    for section in SECTIONS:
        obj = getattr(config, section)
        for f in dataclasses.fields(obj):
            _check_value(f"{section}.{f.name}", getattr(obj, f.name), f.metadata, where)
    synth = config.synth
    if synth.grain_max_ms < synth.grain_min_ms:
        raise ConfigError(
            f"synth.grain_max_ms = {synth.grain_max_ms} in {where} is out of range: "
            f"allowed {synth.grain_min_ms}–500 (at least synth.grain_min_ms)"
        )
    vision = config.vision
    if vision.settle_threshold > vision.change_threshold:
        raise ConfigError(
            f"vision.settle_threshold = {_fmt(vision.settle_threshold)} in {where} is out of "
            f"range: allowed 0.5–{_num(vision.change_threshold)} (at most "
            "vision.change_threshold)"
        )
    pins = config.pins
    seen: dict[int, str] = {}
    for role, pin in pins.items():
        if pin in seen:
            raise ConfigError(
                f"buttons.{role} = {pin} in {where} is already used by buttons.{seen[pin]}: "
                "each button needs its own GPIO"
            )
        seen[pin] = role
    return config


def _unknown(key: str, known: list[str], where: str, sections: bool = False) -> ConfigError:
    """An error for an unknown key, suggesting the closest known one."""
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    listing = (
        "the sections are " + ", ".join(f"[{k}]" for k in known)
        if sections
        else "known keys: " + ", ".join(known)
    )
    return ConfigError(f"unknown key {key} in {where}{hint}; {listing}")


def config_from_dict(data: Mapping[str, Any], where: str = "the configuration") -> Config:
    """Build and validate a :class:`Config` from parsed TOML (a dict of sections).

    Keys not given keep their defaults. ``where`` names the source in messages.
    """
    sections: dict[str, Any] = {}
    for name, table in data.items():
        if name not in SECTIONS:
            raise _unknown(name, list(SECTIONS), where, sections=True)
        if not isinstance(table, dict):
            raise ConfigError(
                f"{name} in {where} must be a table ([{name}]), not {_type_name(table)}"
            )
        cls = SECTIONS[name]
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for key, raw in table.items():
            dotted = f"{name}.{key}"
            if key not in fields:
                raise _unknown(dotted, [f"{name}.{k}" for k in fields], where)
            values[key] = _convert(dotted, str(fields[key].type), raw, where)
        sections[name] = cls(**values)
    return validate_config(Config(**sections), where)


#: A settings file is a few kilobytes; anything much larger is not one.
MAX_CONFIG_BYTES = 1 << 20


def _read_text(path: Path) -> str:
    """The file's text, refusing what is not a regular file (a FIFO would block) or too big."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(path)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(0, "not a regular file (a pipe or a device?); give a .toml file")
        raw = fh.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise OSError(0, f"larger than {MAX_CONFIG_BYTES >> 10} KB; a settings file is a few KB")
    return raw.decode("utf-8")


def load_config(path: Path | None = None) -> Config:
    """Read the configuration file.

    ``path=None`` reads :data:`DEFAULT_CONFIG_PATH`, and a missing file there
    means all defaults. An explicit ``path`` (``--config``) must exist. Raises
    :class:`ConfigError` naming the file (and the line, for a TOML syntax
    error, or the dotted key otherwise).
    """
    explicit = path is not None
    path = Path(path).expanduser() if path is not None else DEFAULT_CONFIG_PATH
    try:
        data = tomllib.loads(_read_text(path))
    except FileNotFoundError:
        if not explicit:
            return Config.default()
        raise ConfigError(f"configuration file {path} not found") from None
    except IsADirectoryError:
        raise ConfigError(f"configuration file {path} is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read configuration file {path}: {exc.strerror or exc}"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"configuration file {path} is not UTF-8 text (byte {exc.start})"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"TOML syntax error in {path}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"configuration file {path} nests tables or lists too deeply "
                          "(a settings file has sections and flat keys)") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise ConfigError(f"configuration file {path} holds a value that cannot be read "
                          f"({str(exc).splitlines()[0][:120]})") from None
    return config_from_dict(data, str(path))


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def _allowed(meta: Mapping[str, Any]) -> str:
    """The allowed values of a key, for its comment ("allowed 10–500")."""
    if meta["choices"] is not None:
        return "one of " + ", ".join(_fmt(c) for c in meta["choices"])
    if meta["lo"] is not None or meta["hi"] is not None:
        return f"{_num(meta['lo'])}–{_num(meta['hi'])}"
    return ""


def _wrap(text: str, width: int = 78) -> list[str]:
    """Split a comment into ``# `` lines no wider than ``width``."""
    lines, line = [], "#"
    for word in text.split():
        if len(line) + 1 + len(word) > width and line != "#":
            lines.append(line)
            line = "#"
        line += " " + word
    lines.append(line)
    return lines


def render_toml(config: Config | None = None) -> str:
    """``config`` (default: the defaults) as a commented TOML file.

    This is how ``config.example.toml`` is made: every key, with its
    documentation, its allowed values and its value.
    """
    config = config or Config.default()
    out = [
        "# Soundscape appliance configuration.",
        "#",
        f"# Copy to {DEFAULT_CONFIG_PATH} and change what you need; a key you leave",
        "# out keeps the default shown here. Generated by: python -m appliance.config",
        "",
    ]
    for name, cls in SECTIONS.items():
        out.append(f"# --- {cls.TITLE}")
        out.append(f"[{name}]")
        section = getattr(config, name)
        for f in dataclasses.fields(cls):
            allowed = _allowed(f.metadata)
            doc = f.metadata["doc"] + (f" Allowed: {allowed}." if allowed else "")
            out.extend(_wrap(doc))
            out.append(f"{f.name} = {_fmt(getattr(section, f.name))}")
        out.append("")
    return "\n".join(out)


def _main() -> int:
    """``python -m appliance.config``: print the example file (all defaults)."""
    import sys

    sys.stdout.write(render_toml())
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
