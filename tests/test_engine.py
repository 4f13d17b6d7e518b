"""The live appliance, end to end, on real corpora: what a wearer would hear.

Real parts throughout: the int8 model, the demo corpora, the Numba synthesizer,
gpiozero's MockFactory pins, the simulated slideshow camera and the paced
real-time sink (which records what it consumed, as a listener would hear it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from appliance import DEMO_MEDIA, PROJECT_ROOT
from appliance.app import load_corpora, make_cues, make_settings
from appliance.audio.paced import PacedSink
from appliance.camera.simulated import SlideshowCamera
from appliance.config import Config
from appliance.controls.actions import Action
from appliance.engine import Engine
from appliance.state import load_state

RATE = 48000


@pytest.fixture(scope="module")
def corpora(embedder):
    return load_corpora(Config.default(), embedder, names=["night", "harbour"]).corpora


def _engine(corpora, embedder, sink, tmp_path, camera=None, **kw) -> Engine:
    settings = make_settings(Config.default(), seed=7)
    return Engine(
        settings,
        corpora,
        embedder,
        sink,
        make_cues(RATE),
        camera_opener=(lambda: camera) if camera is not None else None,
        state_path=tmp_path / "state.json",
        **kw,
    )


def _find(signal_: np.ndarray, cue: np.ndarray) -> tuple[int, float]:
    """Best normalised cross-correlation of mono ``cue`` inside mono ``signal_``."""
    n = len(signal_) + len(cue)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(signal_, size) * np.conj(np.fft.rfft(cue, size)), size)
    corr = corr[: len(signal_) - len(cue) + 1]
    c = np.concatenate([[0.0], np.cumsum(signal_.astype(np.float64) ** 2)])
    energy = c[len(cue) :] - c[: len(c) - len(cue)]  # moving sum over len(cue) samples
    score = corr / np.sqrt(np.maximum(energy, 1e-12) * np.sum(cue**2))
    i = int(np.argmax(score))
    return i, float(score[i])


def _serve(engine: Engine) -> threading.Thread:
    t = threading.Thread(target=engine.serve, daemon=True)
    t.start()
    return t


def test_button_press_switches_corpus_and_announces_it(corpora, embedder, tmp_path: Path) -> None:
    from gpiozero.pins.mock import MockFactory

    from appliance.controls.buttons import ButtonControls

    wav = tmp_path / "heard.wav"
    sink = PacedSink(RATE, 512, 4, record=wav)
    engine = _engine(corpora, embedder, sink, tmp_path)
    factory = MockFactory()
    buttons = ButtonControls.from_config(
        Config.default().buttons, engine.actions.put, pin_factory=factory
    )
    engine.start(announce_ready=False)
    server = _serve(engine)
    try:
        time.sleep(1.5)
        assert engine.snapshot.corpus_name == corpora[0].name
        pin = factory.pin(Config.default().buttons.next)
        pressed_at_frames = sink.frames_written
        pin.drive_low()
        time.sleep(0.15)
        pin.drive_high()
        time.sleep(3.5)
    finally:
        buttons.close()
        engine.stop()
        server.join(1)
    assert engine.snapshot.corpus_name == corpora[1].name
    assert load_state(tmp_path / "state.json").corpus == corpora[1].name
    heard = sf.read(wav, dtype="float32")[0].mean(axis=1)
    cue = engine.cues.corpus_name(1, corpora[1].spoken_name, corpora[1].announcement)[:, 0]
    where, score = _find(heard, cue)
    assert score > 0.6, f"announcement not heard (best match {score:.2f})"
    assert where >= pressed_at_frames - 512, "the announcement came before the press"
    # The soundscape went on under the announcement: never silent.
    steady = heard[RATE : len(heard) - RATE // 2]  # skip the fade-in and the stop fade
    blocks = steady[: len(steady) // 4800 * 4800].reshape(-1, 4800)
    assert np.sqrt((blocks**2).mean(axis=1)).min() > 10 ** (-50 / 20)


def test_camera_dying_does_not_interrupt_audio(corpora, embedder, tmp_path: Path) -> None:
    wav = tmp_path / "heard.wav"
    sink = PacedSink(RATE, 512, 4, record=wav)
    photos = [DEMO_MEDIA / "night/owl/owl.jpg", DEMO_MEDIA / "night/night_lake.jpg"]
    camera = SlideshowCamera(photos, 2.0, fail_after_s=1.5, unplugged_for_s=1.5)
    engine = _engine(corpora, embedder, sink, tmp_path, camera=camera)
    engine.start(announce_ready=False)
    lost_seen = back_seen = False
    t_end = time.monotonic() + 12.0
    while time.monotonic() < t_end and not back_seen:
        ok = engine.snapshot.camera_ok
        lost_seen = lost_seen or (engine.snapshot.frames_seen > 0 and not ok)
        back_seen = lost_seen and ok
        time.sleep(0.05)
    time.sleep(4.5)  # let the cues finish: "camera lost ..." then "camera back"
    engine.stop()
    assert lost_seen, "the camera failure was not noticed"
    assert back_seen, "the camera was not reopened"
    assert sink.deadline_misses == 0, f"audio missed {sink.deadline_misses} deadlines"
    heard = sf.read(wav, dtype="float32")[0].mean(axis=1)
    steady = heard[RATE : len(heard) - RATE // 2]  # skip the fade-in and the stop fade
    blocks = steady[: len(steady) // 4800 * 4800].reshape(-1, 4800)
    assert np.sqrt((blocks**2).mean(axis=1)).min() > 10 ** (-50 / 20), "silence while blind"
    for name in ("camera_lost", "camera_back"):
        _, score = _find(heard, engine.cues.phrase(name)[:, 0])
        assert score > 0.6, f"{name} cue not heard ({score:.2f})"


def test_volume_limits_and_mute_are_audible_and_persist(corpora, embedder, tmp_path) -> None:
    wav = tmp_path / "heard.wav"
    sink = PacedSink(RATE, 512, 4, record=wav)
    engine = _engine(corpora, embedder, sink, tmp_path)
    engine.start(announce_ready=False)
    try:
        time.sleep(0.5)
        for _ in range(12):
            engine.handle(Action.VOLUME_UP)
        assert engine.state.volume == 1.0
        # Quick presses supersede each other's pending answers: the wearer hears
        # the state arrived at ("Maximum volume."), not twelve stale beeps.
        time.sleep(2.5)
        engine.handle(Action.TOGGLE_MUTE)
        assert load_state(tmp_path / "state.json").muted is True
        time.sleep(7.0)  # "Maximum volume." then "Muted. Hold volume down again for sound."
        engine.handle(Action.TOGGLE_MUTE)
        time.sleep(0.5)
    finally:
        engine.stop()
    saved = load_state(tmp_path / "state.json")
    assert (saved.volume, saved.muted) == (1.0, False)
    heard = sf.read(wav, dtype="float32")[0].mean(axis=1)
    for name in ("volume_max", "muted"):
        _, score = _find(heard, engine.cues.phrase(name)[:, 0])
        assert score > 0.6, f"{name} cue not heard ({score:.2f})"


def _wait_for(path: Path, size: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and path.stat().st_size > size:
            return
        time.sleep(0.1)
    raise AssertionError(f"{path} did not grow past {size} bytes in {timeout} s")


@pytest.mark.slow
def test_sigterm_fades_out_and_exits_within_one_second(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[state]\npath = "{tmp_path / "state.json"}"\n[buttons]\nenabled = false\n'
        '[corpora]\norder = ["night"]\n'
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "appliance",
            "run",
            "--config",
            str(config),
            "--camera",
            f"slideshow:{DEMO_MEDIA / 'night'}",
            "--output",
            "paced",
        ],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    wav = tmp_path / "soundscape-output.wav"
    try:
        _wait_for(wav, 2 * RATE * 4, timeout=240)  # two seconds of audio played
        time.sleep(1.0)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    out = proc.stdout.read().decode(errors="replace")
    assert code == 0, out
    assert took < 1.0, f"took {took:.2f} s to exit"
    heard = sf.read(wav, dtype="float32")[0].mean(axis=1)
    steady = np.sqrt(np.mean(heard[-RATE : -RATE // 2] ** 2))
    tail = np.sqrt(np.mean(heard[-1200:] ** 2))  # the last 25 ms
    assert tail < steady / 4, f"no fade: tail {tail:.4f} vs steady {steady:.4f}"
    assert "Traceback" not in out


def test_sleep_timer_says_goodnight_fades_out_and_a_press_wakes_it(
    corpora, embedder, tmp_path: Path
) -> None:
    wav = tmp_path / "heard.wav"
    sink = PacedSink(RATE, 512, 4, record=wav)
    engine = _engine(corpora, embedder, sink, tmp_path)
    engine.settings.timer_fade_s = 1.0
    engine.start(announce_ready=False)
    server = _serve(engine)
    try:
        engine.set_sleep_timer(1.0 / 60)  # one second
        end = time.monotonic() + 8
        while not engine.snapshot.sleeping and time.monotonic() < end:
            time.sleep(0.05)
        assert engine.snapshot.sleeping, "the timer never ended"
        time.sleep(6.0)  # the goodnight words finish (about 5 s); then only silence
        asleep_at = sink.frames_written
        time.sleep(1.0)
        engine.actions.put(Action.VOLUME_UP)  # any press wakes it
        time.sleep(2.5)
    finally:
        engine.stop()
        server.join(1)
    assert not engine.snapshot.sleeping
    heard = sf.read(wav, dtype="float32")[0].mean(axis=1)
    _, score = _find(heard, engine.cues.phrase("sleeping")[:, 0])
    assert score > 0.6, f"the fade was not announced ({score:.2f})"
    asleep = heard[asleep_at : asleep_at + RATE // 2]
    assert np.sqrt(np.mean(asleep**2)) < 1e-3, "still playing while asleep"
    awake = heard[-RATE : -RATE // 2]
    assert np.sqrt(np.mean(awake**2)) > 10 ** (-50 / 20), "no sound after waking"


def test_every_cue_is_ready_before_the_sound_starts(corpora, embedder, tmp_path: Path) -> None:
    """Rendering a cue decodes speech while holding the GIL for milliseconds: all of it
    happens in start(), none when a button is pressed while the soundscape plays."""
    engine = _engine(corpora, embedder, PacedSink(RATE, 512), tmp_path)
    engine.start(announce_ready=False)
    try:
        ready = set(engine.cues._cues)
        assert len(ready) >= 10 + len(corpora)
        presses = [Action.NEXT_CORPUS, Action.PREVIOUS_CORPUS, Action.TOGGLE_MUTE,
                   Action.TOGGLE_MUTE] + [Action.VOLUME_UP] * 12 + [Action.VOLUME_DOWN] * 12
        presses += [Action.CYCLE_SLEEP_TIMER] * (len(engine.settings.timer_choices_min) + 1)
        for action in presses:
            engine.handle(action)
        assert set(engine.cues._cues) == ready  # nothing new was rendered
    finally:
        engine.stop()


class _BrokenSink(PacedSink):
    """A sink with a bug (not a device error) after ``after`` blocks."""

    def __init__(self, after: int) -> None:
        super().__init__(RATE, 512, 4)
        self.after = after

    def write(self, block) -> None:
        if self.blocks_written >= self.after:
            raise RuntimeError("a bug in the sound path")
        super().write(block)


def test_a_bug_in_the_audio_loop_stops_the_box_at_once(corpora, embedder, tmp_path) -> None:
    """Not a silent box with a live process: the engine stops and says it failed, so
    soundscape run exits non-zero and systemd restarts it (5 s, not the 30 s watchdog)."""
    engine = _engine(corpora, embedder, _BrokenSink(after=20), tmp_path)
    engine.start(announce_ready=False)
    served = _serve(engine)
    served.join(timeout=3.0)
    try:
        assert not served.is_alive(), "serve() went on after the audio loop died"
        assert isinstance(engine.failure, RuntimeError)
    finally:
        engine.stop()


class _FlakyCamera(SlideshowCamera):
    """A camera whose library raises its own error (not a CameraError) on one read."""

    failures = 0

    def read(self, timeout_s: float = 1.0):
        if _FlakyCamera.failures == 0:
            _FlakyCamera.failures += 1
            raise ValueError("driver hiccup")
        return super().read(timeout_s)


def test_a_camera_library_error_is_a_lost_camera_not_a_dead_loop(
    corpora, embedder, tmp_path: Path
) -> None:
    photos = [DEMO_MEDIA / "night/owl/owl.jpg"]
    _FlakyCamera.failures = 0  # the next read fails once, in this test too when rerun
    engine = _engine(corpora, embedder, PacedSink(RATE, 512, 4), tmp_path)
    engine.camera_opener = lambda: _FlakyCamera(photos, 2.0)
    engine.start(announce_ready=False)
    try:
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and engine.snapshot.frames_seen == 0:
            time.sleep(0.05)
        assert _FlakyCamera.failures == 1
        assert engine.snapshot.frames_seen > 0, "the vision loop did not recover"
        assert engine.snapshot.camera_ok and engine.failure is None
    finally:
        engine.stop()
