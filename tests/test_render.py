"""``soundscape render``: the whole pipeline offline, deterministic, following the picture."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from appliance import DEMO_MEDIA, PROJECT_ROOT
from appliance.camera.simulated import SlideshowCamera
from appliance.commands import render
from appliance.config import Config
from appliance.corpus import library, load_corpus

RATE = 48000


def band_energies_db(x: np.ndarray, bands: int = 24) -> np.ndarray:
    """Mean power per log-spaced band (60 Hz–16 kHz) of mono ``x``, in dB, level removed."""
    frames = x[: len(x) // 4096 * 4096].reshape(-1, 4096) * np.hanning(4096)
    power = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).mean(axis=0)
    freqs = np.fft.rfftfreq(4096, 1 / RATE)
    edges = np.geomspace(60, 16000, bands + 1)
    e = np.array([power[(freqs >= a) & (freqs < b)].mean() for a, b in itertools.pairwise(edges)])
    db = 10 * np.log10(e + 1e-20)
    return db - db.mean()


@pytest.fixture(scope="module")
def world():
    from appliance.app import make_embedder
    from appliance.corpus import ensure_demo_corpora

    ensure_demo_corpora(make_embedder(Config.default()))
    return load_corpus(library()["world"])


def scene_audio(corpus, scene: str) -> np.ndarray:
    audio = corpus.audio_float32().mean(axis=1)
    parts = [audio[int(a * RATE) : int(b * RATE)] for s, a, b in corpus.scene_spans() if s == scene]
    return np.concatenate(parts)


def _render(tmp_path: Path, photo: str, seed: int, name: str):
    camera = SlideshowCamera([DEMO_MEDIA / photo], seconds_per_image=10.0)
    return render(Config.default(), camera, "world", 8.0, tmp_path / name, seed)


def test_render_is_deterministic_and_draws_what_was_heard(tmp_path: Path) -> None:
    a = _render(tmp_path, "waterfall/waterfall_dam_spillway.jpg", 3, "a.wav").wav
    b = _render(tmp_path, "waterfall/waterfall_dam_spillway.jpg", 3, "b.wav").wav
    c = _render(tmp_path, "waterfall/waterfall_dam_spillway.jpg", 4, "c.wav").wav
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    with Image.open(a.with_suffix(".png")) as im:
        assert im.width > 800 and im.height > 100
    audio, rate = sf.read(a, dtype="float32")
    assert rate == RATE and audio.shape[1] == 2 and audio.shape[0] >= 8 * RATE
    assert np.abs(audio).max() <= 10 ** (-1 / 20) + 1e-4  # the limiter's ceiling
    # A file to listen to: at the loudness target (-23 LUFS), not at the device's volume.
    from appliance.synth import measure_loudness

    assert measure_loudness(audio[2 * RATE :], RATE) == pytest.approx(-23.0, abs=2.0)


@pytest.mark.parametrize(
    ("photo", "scene", "other"),
    [
        ("waterfall/waterfall_dam_spillway.jpg", "waterfall", "farm/cow/cow.jpg"),
        ("farm/cow/cow.jpg", "farm", "waterfall/waterfall_dam_spillway.jpg"),
        ("harbour/harbour_boats_evening.jpg", "harbour", "forest/forest_path.jpg"),
    ],
)
def test_the_sound_follows_the_picture(tmp_path: Path, world, photo, scene, other) -> None:
    """Grains come from the pictured scene's stretch of the timeline, and the sound
    is nearer to the audio there than to the audio another picture calls up."""
    result = _render(tmp_path, photo, 5, "a.wav")
    starts = result.grain_starts_s
    span = [(a, b) for s, a, b in world.scene_spans() if s == scene]
    inside = np.mean([any(a <= t < b for a, b in span) for t in starts])
    assert result.scene_masses[scene] > 0.8, result.scene_masses
    assert inside > 0.8, f"only {inside:.0%} of the grains came from {scene}"

    def region_audio(r) -> np.ndarray:
        """The corpus audio the grains came from: 100 ms at each of up to 400 grain starts
        (a scene's recordings differ, so its busiest 2 s alone can sound like another's)."""
        audio = world.audio_float32().mean(axis=1)
        starts = np.asarray(r.grain_starts_s)[:: max(1, len(r.grain_starts_s) // 400)]
        return np.concatenate([audio[int(t * RATE) : int(t * RATE) + RATE // 10]
                               for t in starts])

    elsewhere = _render(tmp_path, other, 5, "b.wav")
    heard = band_energies_db(sf.read(result.wav, dtype="float32")[0][RATE:].mean(axis=1))
    near = np.abs(heard - band_energies_db(region_audio(result))).mean()
    far = np.abs(heard - band_energies_db(region_audio(elsewhere))).mean()
    assert near < far, f"{photo}: {near:.1f} dB from its region, {far:.1f} dB from the other"


def test_render_cli_reports_where_the_files_are(tmp_path: Path) -> None:
    out = tmp_path / "r.wav"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "appliance",
            "render",
            "--input",
            str(DEMO_MEDIA / "night"),
            "--corpus",
            "night",
            "--seconds",
            "3",
            "-o",
            str(out),
            "--seconds-per-image",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT_ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(out) in proc.stdout and str(out.with_suffix(".png")) in proc.stdout
    assert out.is_file() and out.with_suffix(".png").is_file()


def test_render_of_a_missing_input_is_a_clear_error(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "appliance",
            "render",
            "--input",
            str(tmp_path / "nope.mp4"),
            "-o",
            str(tmp_path / "x.wav"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert "nope.mp4" in proc.stderr and "Traceback" not in proc.stderr
