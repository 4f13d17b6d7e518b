"""Sounds come from where their picture is in the frame: a cow on the left is heard on the left.

Real model, real photos, real corpus: two demo photos side by side make a frame with
a known left and right.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from appliance import DEMO_MEDIA
from appliance.camera.simulated import SlideshowCamera
from appliance.commands import render
from appliance.config import Config
from appliance.corpus import Matcher, library, load_corpus
from appliance.synth import GrainParams, Granulator, Source

RATE = 48000
COW = "farm/cow/cow.jpg"
WATERFALL = "waterfall/waterfall_dam_spillway.jpg"


def square(rel: str, side: int = 224) -> Image.Image:
    with Image.open(DEMO_MEDIA / rel) as im:
        im = im.convert("RGB")
        w, h = im.size
        s = min(w, h)
        box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
        return im.crop(box).resize((side, side))


def side_by_side(left: str, right: str) -> Image.Image:
    """A 448×224 frame: the two photos' centre squares, next to each other."""
    frame = Image.new("RGB", (448, 224))
    frame.paste(square(left), (0, 0))
    frame.paste(square(right), (224, 0))
    return frame


@pytest.fixture(scope="module")
def world():
    from appliance.app import make_embedder
    from appliance.corpus import ensure_demo_corpora

    ensure_demo_corpora(make_embedder(Config.default()))
    return load_corpus(library()["world"])


def _keyframe(corpus, origin: str) -> int:
    return next(k for k, o in enumerate(corpus.origins) if o.endswith(origin))


def test_a_keyframe_is_placed_where_its_look_is_in_the_frame(world, embedder) -> None:
    matcher = Matcher(world)
    cow, fall = _keyframe(world, COW), _keyframe(world, WATERFALL)
    for left, right, sign in ((COW, WATERFALL, 1.0), (WATERFALL, COW, -1.0)):
        e = embedder.embed_full(np.asarray(side_by_side(left, right)))
        p = matcher.probabilities(e)
        # Only the most probable keyframes get a place; make sure both are placed.
        p[[cow, fall]] = p.max() + 1.0
        x = matcher.positions(e.feature_map, p)
        # sign +1: the cow on the left (negative), the waterfall on the right.
        assert sign * x[cow] < -0.3 and sign * x[fall] > 0.3, (left, x[cow], x[fall])
        assert np.count_nonzero(x) <= 16  # the rest stay in the centre


def test_positions_weigh_the_columns_by_how_near_they_are() -> None:
    from appliance.corpus.direction import positions

    rng = np.random.default_rng(0)
    rows = rng.standard_normal((3, 64)).astype(np.float32)
    far = rows[0] + 5.0
    alike = np.stack([rows[0]] * 7)  # every strip looks the same: the centre
    assert positions(alike, rows[:1])[0] == pytest.approx(0.0, abs=1e-9)
    left = np.stack([rows[1]] + [far] * 6)  # only the leftmost strip shows keyframe 1
    assert positions(left, rows[1:2])[0] == pytest.approx(-1.0, abs=1e-6)
    half = np.stack([far] * 4 + [rows[2]] * 3)  # the right three strips show keyframe 2
    assert positions(half, rows[2:3])[0] == pytest.approx(2.0 / 3.0, abs=1e-6)


def _left_minus_right_db(y: np.ndarray) -> float:
    power = np.mean(y.astype(np.float64) ** 2, axis=0)
    return float(10 * np.log10(power[0] / power[1]))


def test_the_sound_comes_from_the_side_its_picture_is_on(tmp_path: Path) -> None:
    levels = {}
    frames = {"cow_left": (COW, WATERFALL), "cow_right": (WATERFALL, COW)}
    for name, (left, right) in frames.items():
        photo = tmp_path / f"photo_{name}.png"  # render writes {name}.png beside the WAV
        side_by_side(left, right).save(photo)
        camera = SlideshowCamera([photo], seconds_per_image=10.0)
        wav = render(Config.default(), camera, "world", 6.0, tmp_path / f"{name}.wav", 1).wav
        audio, _ = sf.read(wav, dtype="float32")
        levels[name] = _left_minus_right_db(audio[2 * RATE :])
    # The frame calls up the cow most (the centre square the model sees is half cow, half
    # waterfall): it is heard on the cow's side, and moving the cow moves the sound.
    assert levels["cow_left"] > 2.0 and levels["cow_right"] < -2.0, levels


def test_no_camera_direction_keeps_the_sound_centred(tmp_path: Path) -> None:
    config = Config.default()
    photo = tmp_path / "photo_cow_left.png"
    side_by_side(COW, WATERFALL).save(photo)
    import dataclasses

    off = dataclasses.replace(config, synth=dataclasses.replace(config.synth, pan_from_camera=0.0))
    camera = SlideshowCamera([photo], seconds_per_image=10.0)
    wav = render(off, camera, "world", 6.0, tmp_path / "off.wav", 1).wav
    audio, _ = sf.read(wav, dtype="float32")
    assert abs(_left_minus_right_db(audio[2 * RATE :])) < 1.0


def test_synth_pans_each_keyframes_grains_to_its_place() -> None:
    rng = np.random.default_rng(3)
    noise = (0.1 * rng.standard_normal((4 * RATE, 1))).astype(np.float32)
    source = Source.from_audio(noise, RATE)  # 4 keyframes, mono
    k = source.keyframes
    out = np.zeros((512, 2), np.float32)

    def side(pans: np.ndarray | None) -> float:
        g = Granulator(params=GrainParams(p_smoothing_s=0.0), seed=2)
        g.set_source(source, crossfade=False)
        g.set_probability(np.ones(k), pans)
        blocks = []
        for _ in range(round(3 * RATE / 512)):
            g.render(out)
            blocks.append(out.copy())
        return _left_minus_right_db(np.concatenate(blocks)[RATE:])

    assert side(np.full(k, -0.8)) > 6.0
    assert side(np.full(k, 0.8)) < -6.0
    assert abs(side(None)) < 1.0
    g = Granulator()
    g.set_source(source)
    for bad in (np.full(k, 1.5), np.full(k + 1, 0.0), np.full(k, np.nan)):
        with pytest.raises(ValueError, match="pan"):
            g.set_probability(np.ones(k), bad)
