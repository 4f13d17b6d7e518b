"""Sounds come from where their picture is in the frame: a cow on the left is heard on the left.

Real model, real photos, real corpus: two demo photos side by side make a frame with
a known left and right.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from appliance import DEMO_MEDIA
from appliance.camera.simulated import SlideshowCamera
from appliance.commands import render
from appliance.config import Config
from appliance.corpus import Matcher, library, load_corpus
from appliance.synth import GrainParams, Granulator, Source
from appliance.vision.images import load_rgb, side_by_side

RATE = 48000
COW = "farm/cow/cow.jpg"
WATERFALL = "waterfall/waterfall_dam_spillway.jpg"


def frame(tmp_path: Path, left: str, right: str) -> Path:
    """A 448×224 picture: the two demo photos' centre squares, next to each other (the
    demo's own helper, at the model's height)."""
    out = tmp_path / f"photo_{Path(left).stem}_{Path(right).stem}.jpg"
    return side_by_side(DEMO_MEDIA / left, DEMO_MEDIA / right, out, height=224)


@pytest.fixture(scope="module")
def world():
    from appliance.app import make_embedder
    from appliance.corpus import ensure_demo_corpora

    ensure_demo_corpora(make_embedder(Config.default()))
    return load_corpus(library()["world"])


def _keyframe(corpus, origin: str) -> int:
    return next(k for k, o in enumerate(corpus.origins) if o.endswith(origin))


def test_a_keyframe_is_placed_where_its_look_is_in_the_frame(
    world, embedder, tmp_path: Path
) -> None:
    matcher = Matcher(world)
    cow, fall = _keyframe(world, COW), _keyframe(world, WATERFALL)
    for left, right, sign in ((COW, WATERFALL, 1.0), (WATERFALL, COW, -1.0)):
        e = embedder.embed_full(load_rgb(frame(tmp_path, left, right)))
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
    scene_of = {COW: "farm", WATERFALL: "waterfall"}
    heard = {}
    for left, right in ((COW, WATERFALL), (WATERFALL, COW)):
        # A still view (no slow pan): the drift would carry the centre square across the
        # seam between the photos, and what it calls up with it.
        camera = SlideshowCamera([frame(tmp_path, left, right)], seconds_per_image=10.0,
                                 pan_zoom=False)
        name = f"{scene_of[left]}_left"  # render also writes {name}.png beside the WAV
        result = render(Config.default(), camera, "world", 6.0, tmp_path / f"{name}.wav", 1)
        audio, _ = sf.read(result.wav, dtype="float32")
        # The centre square the model sees is half of each photo; whichever scene it
        # calls up most is heard on that photo's side.
        louder = max(scene_of.values(), key=lambda scene: result.scene_masses[scene])
        side = -1.0 if louder == scene_of[left] else 1.0  # -1: expect the left louder
        heard[name] = (louder, _left_minus_right_db(audio[2 * RATE :]), side)
    for _louder, level, side in heard.values():
        assert -side * level > 0.3, heard  # the scene called up most is on its own side
    # Swapping the photos moves the cows across: the left-right balance moves by dB
    # (measured: 5.8 dB louder on the left with the cow on the left, 7.5 dB louder on the
    # right with the cow on the right; the cow calls up the farm either way).
    assert heard["farm_left"][1] - heard["waterfall_left"][1] > 2.0, heard


def test_no_camera_direction_keeps_the_sound_centred(tmp_path: Path) -> None:
    import dataclasses

    config = Config.default()
    photo = frame(tmp_path, COW, WATERFALL)
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


def test_a_scenes_views_share_the_place_of_its_most_clearly_seen_one() -> None:
    from appliance.corpus.direction import share_by_group

    x = np.array([-0.7, 0.05, 0.8, 0.0])
    nearest = np.array([0.5, 0.9, 0.6, 0.7])
    groups = np.array([0, 0, 1, 1])  # two views of a waterfall, two of a farm
    np.testing.assert_allclose(share_by_group(x, nearest, groups), [-0.7, -0.7, 0.8, 0.8])
