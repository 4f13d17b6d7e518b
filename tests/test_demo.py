"""The README's main command, as a newcomer runs it: `soundscape demo` on a machine
without a sound card renders a soundscape and a picture of it, and says where they are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from appliance.cli import main
from appliance.synth import measure_loudness

RATE = 48000


def test_the_demo_views_are_no_corpus_keyframes() -> None:
    """The demo shows sights the box has never seen: no view is a photo of any corpus."""
    from appliance import CORPORA_DIR, DEMO_VIEWS
    from appliance.corpus.model_id import cached_file_sha256

    views = {cached_file_sha256(p) for p in DEMO_VIEWS.glob("*.jpg")}
    corpus_photos = {cached_file_sha256(p) for p in (CORPORA_DIR / "media").rglob("*.jpg")}
    assert len(views) >= 5 and not views & corpus_photos


def test_demo_renders_a_soundscape_of_every_view(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["demo", "--render", "--seconds", "24", "--output-dir", str(out)]) == 0
    said = capsys.readouterr().out
    wav, png = out / "demo.wav", out / "demo.png"
    assert f"Listen:  {wav}" in said and f"Look:    {png}" in said
    # New views, none of them a keyframe, then a place of no known kind, then the cow
    # beside the waterfall.
    scenes = ("harbour (victoria harbour), farm (rice paddies), night (dusk field trees), "
              "forest (snowy mountain slope mist), somewhere (kitchen), then a cow on the left")
    assert scenes in said
    audio, rate = sf.read(wav, dtype="float32")
    assert rate == RATE and audio.shape == (24 * RATE, 2)
    # Every one of the six views (4 s each) is heard, near the loudness target,
    # with no gap (after the first fade-in).
    for i in range(6):
        view = audio[i * 4 * RATE + RATE // 2 : (i + 1) * 4 * RATE]
        assert measure_loudness(view, RATE) == pytest.approx(-23.0, abs=5.0), i
    window = RATE // 100
    body = audio[RATE : len(audio) // window * window]
    levels = 10 * np.log10(np.mean(body.reshape(-1, window, 2) ** 2, axis=(1, 2)) + 1e-20)
    assert levels.min() > -70.0
    with Image.open(png) as im:
        assert im.width > 800 and im.height > 200
    with Image.open(out / "demo-side-by-side.jpg") as im:
        assert im.size == (960, 480)
