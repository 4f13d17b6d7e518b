"""The configuration file: defaults, the example file, and every kind of refusal."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from appliance import DEFAULT_MODEL, PROJECT_ROOT
from appliance import config as config_module
from appliance.config import (
    BUTTON_ROLES,
    DEFAULT_PINS,
    SECTIONS,
    ButtonsConfig,
    Config,
    all_keys,
    load_config,
    render_toml,
    validate_config,
)
from appliance.errors import ConfigError

EXAMPLE = PROJECT_ROOT / "config.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message, message
    # Raised "from None": the CLI prints one line, no chained traceback.
    assert info.value.__cause__ is None
    return message


# ------------------------------------------------------------------ defaults


def test_defaults_are_valid_and_match_the_brief() -> None:
    cfg = validate_config(Config.default())
    assert cfg == Config()
    assert cfg.corpora.order == ("woods_and_water", "night", "farm", "harbour", "world")
    assert cfg.audio.sample_rate == 48000 and cfg.audio.block_size == 512
    assert (cfg.synth.grain_min_ms, cfg.synth.grain_max_ms) == (50, 100)
    assert cfg.volume.initial == 0.6
    assert cfg.buttons.shutdown_hold_s == 0.0
    assert cfg.timer.choices_min == (0, 15, 30, 60)
    assert cfg.view.bind == "127.0.0.1" and not cfg.view.enabled


def test_default_pins_are_the_button_defaults() -> None:
    assert tuple(DEFAULT_PINS) == BUTTON_ROLES
    assert dict(DEFAULT_PINS) == {"next": 17, "previous": 27, "volume_up": 22, "volume_down": 23}
    assert Config.default().pins == dict(DEFAULT_PINS)
    assert len(set(DEFAULT_PINS.values())) == 4


def test_every_key_has_a_doc() -> None:
    for cls in SECTIONS.values():
        for f in dataclasses.fields(cls):
            assert f.metadata.get("doc"), f"{cls.__name__}.{f.name} has no documentation"


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Config.default().audio.block_size = 256  # type: ignore[misc]


# ------------------------------------------------------------ example file


@pytest.mark.arm
def test_example_file_parses_to_exactly_the_defaults() -> None:
    assert load_config(EXAMPLE) == Config.default()


def test_example_file_mentions_every_key() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    found = [f"{section}.{key}" for section, table in data.items() for key in table]
    assert sorted(found) == sorted(all_keys())


def test_example_file_is_generated_from_the_schema() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == render_toml(), (
        "config.example.toml is stale: regenerate it with "
        "python -m appliance.config > config.example.toml"
    )


def test_rendered_non_default_config_round_trips(tmp_path: Path) -> None:
    cfg = dataclasses.replace(
        Config.default(),
        synth=dataclasses.replace(Config.default().synth, grain_min_ms=20, seed=7),
        timer=dataclasses.replace(Config.default().timer, choices_min=(0, 5)),
        corpora=dataclasses.replace(Config.default().corpora, order=('a "quoted" name', "b")),
    )
    assert load_config(write(tmp_path, render_toml(cfg))) == cfg


# ------------------------------------------------------------------ loading


def test_missing_default_file_means_defaults(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(config_module, "DEFAULT_CONFIG_PATH", tmp_path / "nope.toml")
    assert load_config(None) == Config.default()


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match=re.escape(str(path)) + ".*not found"):
        load_config(path)


def test_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == Config.default()


def test_partial_file_keeps_other_defaults(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, "[audio]\nblock_size = 256\n[buttons]\nnext = 5\nshutdown_hold_s = 5\n")
    )
    assert cfg.audio.block_size == 256
    assert cfg.audio.sample_rate == 48000
    assert cfg.buttons.next == 5 and cfg.buttons.previous == 27
    assert cfg.buttons.shutdown_hold_s == 5.0 and isinstance(cfg.buttons.shutdown_hold_s, float)
    assert cfg.camera == Config.default().camera


def test_integer_accepted_for_a_float_key(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "[camera]\nfps = 10\n"))
    assert cfg.camera.fps == 10.0 and isinstance(cfg.camera.fps, float)


def test_lists_become_tuples(tmp_path: Path) -> None:
    text = '[corpora]\norder = ["night"]\n[timer]\nchoices_min = [0, 90]\n'
    cfg = load_config(write(tmp_path, text))
    assert cfg.corpora.order == ("night",)
    assert cfg.timer.choices_min == (0, 90)


@pytest.mark.arm
def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[audio]\nblock_size = = 5\n")
    assert "TOML syntax error" in message
    assert "line 2" in message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"[audio]\ndevice = \"\xff\"\n")
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        load_config(path)


@pytest.mark.arm
def test_unknown_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[audio]\nblocksize = 512\n")
    assert "unknown key audio.blocksize" in message
    assert "did you mean audio.block_size?" in message


def test_unknown_section(tmp_path: Path) -> None:
    message = error_for(tmp_path, "[sound]\nvolume = 1\n")
    assert "unknown key sound" in message


def test_section_must_be_a_table(tmp_path: Path) -> None:
    message = error_for(tmp_path, "camera = 5\n")
    assert "camera" in message and "must be a table" in message


@pytest.mark.arm
@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[audio]\nblock_size = "512"\n', "audio.block_size in {path} must be an integer"),
        ("[audio]\nblock_size = 512.0\n", "audio.block_size in {path} must be an integer"),
        ("[buttons]\nnext = true\n", "buttons.next in {path} must be an integer"),
        ('[buttons]\nenabled = "yes"\n', "buttons.enabled in {path} must be true or false"),
        ("[buttons]\nenabled = 1\n", "buttons.enabled in {path} must be true or false"),
        ('[camera]\nfps = "4"\n', "camera.fps in {path} must be a number"),
        ("[camera]\nsource = 0\n", "camera.source in {path} must be a string"),
        ('[corpora]\norder = "night"\n', "corpora.order in {path} must be a list of strings"),
        ("[corpora]\norder = [1, 2]\n", "corpora.order in {path} must be a list of strings"),
        ('[timer]\nchoices_min = [0, "15"]\n', "timer.choices_min in {path} must be a list of int"),
    ],
)
def test_wrong_type(tmp_path: Path, text: str, fragment: str) -> None:
    message = error_for(tmp_path, text)
    assert fragment.format(path=tmp_path / "config.toml") in message, message


@pytest.mark.arm
def test_out_of_range_message_exactly(tmp_path: Path) -> None:
    path = write(tmp_path, "[synth]\ngrain_min_ms = 5\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == f"synth.grain_min_ms = 5 in {path} is out of range: allowed 10–500"


@pytest.mark.arm
@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[camera]\nfps = 0.1\n", "camera.fps = 0.1 in {path} is out of range: allowed 0.2–30"),
        ("[camera]\nfps = nan\n", "camera.fps = nan in {path} is out of range"),
        ("[camera]\nfps = inf\n", "camera.fps = inf in {path} is out of range"),
        ("[camera]\nslideshow_seconds = 0.5\n", "allowed 1–600"),
        ('[camera]\nsource = "usb"\n', "camera.source = \"usb\" in {path} must be one of auto"),
        ('[camera]\nsource = "video:"\n', "camera.source"),
        ('[audio]\ndevice = "pulse"\n', 'audio.device = "pulse" in {path} must be one of auto'),
        ("[audio]\nsample_rate = 22050\n", "choose one of 48000"),
        # every corpus is built at 48 kHz: 44.1 kHz would play everything 8 % low
        ("[audio]\nsample_rate = 44100\n", "audio.sample_rate = 44100 in {path} is not allowed"),
        ("[audio]\nblock_size = 32\n", "allowed 64–2048"),
        ("[audio]\nblock_size = 4096\n", "allowed 64–2048"),
        ("[audio]\nblock_size = 500\n", "audio.block_size = 500 in {path} must be a power of two"),
        ("[audio]\nperiods = 1\n", "allowed 2–16"),
        ('[audio]\nsample_format = "FLOAT_LE"\n', 'choose one of "S16_LE", "S32_LE"'),
        ("[synth]\ngrain_max_ms = 600\n", "allowed 10–500"),
        ("[synth]\ngrain_min_ms = 200\ngrain_max_ms = 100\n",
         "synth.grain_max_ms = 100 in {path} is out of range: allowed 200–500"),
        ("[synth]\ngrains_per_s = 0\n", "allowed 1–400"),
        ("[synth]\npan_spread = 1.5\n", "allowed 0–1"),
        ("[synth]\np_smoothing_s = -1\n", "allowed 0–10"),
        ("[synth]\ncrossfade_s = 11\n", "allowed 0–10"),
        ("[synth]\nseed = -1\n", "synth.seed = -1"),
        ("[volume]\ninitial = 1.1\n", "allowed 0–1"),
        ("[volume]\nstep = 0\n", "allowed 0.01–0.5"),
        ("[buttons]\nnext = 28\n", "buttons.next = 28 in {path} is out of range: allowed 0–27"),
        ("[buttons]\nprevious = 17\n",
         "buttons.previous = 17 in {path} is already used by buttons.next"),
        ("[buttons]\nhold_s = 0.1\n", "allowed 0.3–10"),
        ("[buttons]\ndebounce_ms = 600\n", "allowed 0–500"),
        ("[buttons]\nshutdown_hold_s = 2\n", "allowed 0 (off) or 3–30"),
        ("[buttons]\nshutdown_hold_s = 31\n", "allowed 0 (off) or 3–30"),
        ("[timer]\nchoices_min = [0, 2000]\n", "timer.choices_min = [0, 2000] (the 2000)"),
        ("[timer]\nchoices_min = []\n", "must list at least one choice"),
        ("[timer]\nchoices_min = [0, 15, 15]\n", "lists 15 more than once"),
        ("[timer]\nfade_s = 0\n", "allowed 1–600"),
        ("[model]\nthreads = 9\n", "allowed 1–8"),
        ("[view]\nport = 80\n", "view.port = 80 in {path} is out of range: allowed 1024–65535"),
        ('[view]\nbind = ""\n', "view.bind"),
        ('[corpora]\norder = ["night", "night"]\n', "lists night more than once"),
        ('[corpora]\norder = ["night", " "]\n', "must not contain empty names"),
    ],
)
def test_refused_values(tmp_path: Path, text: str, fragment: str) -> None:
    message = error_for(tmp_path, text)
    assert fragment.format(path=tmp_path / "config.toml") in message, message


@pytest.mark.parametrize(
    "text",
    [
        "[buttons]\nshutdown_hold_s = 0\n",
        "[buttons]\nshutdown_hold_s = 3\n",
        "[buttons]\nshutdown_hold_s = 30.0\n",
        '[camera]\nsource = "v4l2:/dev/video1"\n',
        '[camera]\nsource = "slideshow:/srv/photos"\n',
        '[camera]\nsource = "picamera2"\n',
        '[audio]\ndevice = "alsa:hw:1,0"\n',
        '[audio]\ndevice = "wav:/tmp/out.wav"\n',
        '[audio]\ndevice = "paced"\n',
        "[audio]\nblock_size = 64\n",
        "[audio]\nblock_size = 2048\n",
        "[synth]\ngrain_min_ms = 80\ngrain_max_ms = 80\n",
        "[synth]\nseed = 4294967295\n",
        "[buttons]\nnext = 0\nprevious = 27\nvolume_up = 5\nvolume_down = 6\n",
        '[corpora]\norder = []\ndir = "~/my-sounds"\n',
    ],
)
def test_accepted_edge_values(tmp_path: Path, text: str) -> None:
    load_config(write(tmp_path, text))


# ------------------------------------------------------------- path helpers


def test_model_path_resolution() -> None:
    assert Config.default().model.resolved_path() == DEFAULT_MODEL
    cfg = dataclasses.replace(Config.default().model, path="~/m.tflite")
    assert cfg.resolved_path() == Path.home() / "m.tflite"


def test_state_path_resolution(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path))
    assert Config.default().state.resolved_path() == tmp_path / "state.json"
    explicit = dataclasses.replace(Config.default().state, path=str(tmp_path / "s.json"))
    assert explicit.resolved_path() == tmp_path / "s.json"


def test_buttons_config_pins() -> None:
    cfg = dataclasses.replace(Config.default(), buttons=ButtonsConfig(next=5, previous=6))
    assert cfg.pins == {"next": 5, "previous": 6, "volume_up": 22, "volume_down": 23}


# ------------------------------------------------------------- hostile files


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[audio]\nx = " + "[" * 50_000 + "]" * 50_000 + "\n", "nests tables or lists too deeply"),
        ("[audio]\nblock_size = " + "9" * 5000 + "\n", "holds a value that cannot be read"),
        ("[audio]\nblock_size = " + "9" * 4000 + "\n", "(4000 digits) in"),
    ],
)
def test_hostile_config_is_refused_in_one_line(tmp_path: Path, text: str, fragment: str) -> None:
    message = error_for(tmp_path, text)
    assert fragment in message and "\n" not in message and len(message) < 400, message


def test_fifo_as_config_is_refused_without_hanging(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(fifo)  # nobody ever writes to it: a blocking open would hang here


def test_huge_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# " + "x" * (2 << 20) + "\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(path)
