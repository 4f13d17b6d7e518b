"""A box that cannot start says why, out loud: its wearer has no screen to read errors on."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from appliance.audio.factory import sound_card_present
from appliance.cli import main
from appliance.cues import CueBank, cue_gain
from appliance.errors import ConfigError, CorpusError, ModelError, SoundscapeError
from appliance.fatal import announce_fatal, spoken_message
from appliance.synth.volume import DEFAULT_VOLUME

RATE = 48000


def heard(path: Path) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32")
    assert rate == RATE and audio.ndim == 2 and audio.shape[1] == 2
    return audio


def assert_says(wav: Path, exc: SoundscapeError) -> None:
    """``wav`` holds the problem earcon and the spoken reason for ``exc``, whole, at the
    cues' level for the first start's volume."""
    expected = CueBank(RATE).phrase("problem", spoken_message(exc)) * cue_gain(DEFAULT_VOLUME)
    audio = heard(wav)
    assert audio.shape[0] >= expected.shape[0]
    np.testing.assert_allclose(audio[: expected.shape[0]], expected, atol=1.5 / 32767)
    if shutil.which("espeak-ng"):  # words, not only the earcon (0.8 s)
        assert expected.shape[0] > 3 * RATE


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def test_a_config_mistake_is_spoken_and_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[synth]\ngrain_count = 3\n")
    out = tmp_path / "said.wav"
    code, err = run(["run", "--config", str(config), "--output", f"wav:{out}"], capsys)
    assert code == 2
    assert "grain_count" in err and str(config) in err and "Traceback" not in err
    assert_says(out, ConfigError("x"))


def test_a_missing_model_is_spoken_on_the_configured_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "said.wav"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[model]\npath = "{tmp_path / "nowhere.tflite"}"\n[audio]\ndevice = "wav:{out}"\n'
    )
    code, err = run(["run", "--config", str(config)], capsys)
    assert code == 2 and "nowhere.tflite" in err
    assert_says(out, ModelError("x"))


def test_without_a_sound_card_it_only_logs(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="appliance.fatal"):
        assert announce_fatal(CorpusError("x"), "paced") is False
    assert "no sound card" in caplog.text
    if not sound_card_present():
        assert announce_fatal(CorpusError("x"), "auto") is False


def test_a_device_that_does_not_open_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    with caplog.at_level(logging.WARNING, logger="appliance.fatal"):
        assert announce_fatal(ModelError("x"), "alsa:hw:CARD=NoSuchCard") is False
        assert announce_fatal(ModelError("x"), f"wav:{not_a_folder / 'said.wav'}") is False
    assert caplog.text.count("could not say why") == 2


def test_each_failure_has_plain_words() -> None:
    said = {kind: spoken_message(kind("details for the log")) for kind in
            (ConfigError, ModelError, CorpusError, SoundscapeError)}
    assert len(set(said.values())) == 4
    for text in said.values():
        assert text.startswith("The soundscape cannot start: ")
        assert text.endswith("Please ask a helper to run soundscape doctor.")
        assert "details for the log" not in text  # file paths are not read out
