"""Views for the benchmark: a still camera with sensor noise, and a scene every 2 s.

Both are :class:`~appliance.camera.simulated.SlideshowCamera` s (the same real-time
pacing, ``frame_at(t)`` for offline runs, ``label_at(t)`` for the scene on show), on
the demo photos, with Gaussian sensor noise added to every frame: σ = 8 levels of 255
per colour channel by default, independent per pixel and per frame, about what a
small camera module (a Pi Camera Module 2 or 3, a cheap webcam) shows indoors; in
daylight it is less, in a dim room twice as much. The noise is seeded from the frame's
time, so ``frame_at(t)`` stays a pure function of ``t``.

* :func:`still_view`: one photo, held (a wearer on a bench). Nothing changes but the
  noise.
* :func:`changing_view`: a different photo every ``every_s`` seconds (2 s by default),
  each reached by a turn of the head: over the first ``turn_s`` seconds of its slot
  (0.4 s by default) the view slides sideways from the previous photo to the new one,
  as a panorama of the two (``turn_s = 0`` is a hard cut). ``label_at`` names the new
  photo from the start of the turn: the moment the view starts to change.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from appliance import DEMO_MEDIA
from appliance.camera.base import DEFAULT_FRAME_SIZE
from appliance.camera.simulated import SlideshowCamera

#: Sensor noise of the benchmark's views: σ in 8-bit levels per colour channel.
SENSOR_NOISE_SIGMA = 8.0

#: The still view's photo.
STILL_PHOTO = DEMO_MEDIA / "forest" / "forest_path.jpg"

#: One photo per demo scene folder, in an order that changes scene at every step.
CHANGING_PHOTOS: tuple[Path, ...] = tuple(
    DEMO_MEDIA / rel
    for rel in (
        "forest/forest_path.jpg",
        "waterfall/waterfall_dam_spillway.jpg",
        "farm/cow/cow.jpg",
        "harbour/harbour_boats_evening.jpg",
        "rain/rain_dark_clouds_hills.jpg",
        "night/night_lake.jpg",
        "stream/stream_rocky_brook.jpg",
    )
)


class NoisyView(SlideshowCamera):
    """A slideshow without pan and zoom, with sensor noise and, optionally, head turns
    between photos (see the module docstring). ``noise_sigma`` in 8-bit levels,
    ``turn_s`` in seconds (0 = hard cuts, at most half of ``seconds_per_image``)."""

    def __init__(
        self,
        photos: Sequence[Path],
        seconds_per_image: float,
        *,
        noise_sigma: float = SENSOR_NOISE_SIGMA,
        turn_s: float = 0.0,
        size: tuple[int, int] = DEFAULT_FRAME_SIZE,
        max_fps: float = 30.0,
        seed: int = 0,
    ) -> None:
        super().__init__(list(photos), seconds_per_image, pan_zoom=False, size=size,
                         max_fps=max_fps, seed=seed)
        if not 0.0 <= turn_s <= seconds_per_image / 2:
            raise ValueError(f"turn_s must be in [0, {seconds_per_image / 2}], not {turn_s}")
        if not noise_sigma >= 0.0:
            raise ValueError(f"noise_sigma must be >= 0, not {noise_sigma}")
        self.noise_sigma = float(noise_sigma)
        self.turn_s = float(turn_s)
        self.description += f", sensor noise sigma {noise_sigma:g}"
        if turn_s:
            self.description += f", {turn_s:g} s head turns"

    def turning_at(self, t_s: float) -> bool:
        """True while the view slides from one photo to the next."""
        into = t_s % self.seconds_per_image
        return len(self.paths) > 1 and t_s >= self.seconds_per_image and into < self.turn_s

    def clean_frame_at(self, t_s: float) -> np.ndarray:
        """The frame at ``t_s`` without the sensor noise."""
        frame = super().frame_at(t_s)
        if not self.turning_at(t_s):
            return frame
        into = t_s % self.seconds_per_image
        u = 0.5 - 0.5 * math.cos(math.pi * into / self.turn_s)  # eases in and out
        before = super().frame_at(t_s - into - 1e-6)  # the previous photo
        width = frame.shape[1]
        shift = round(u * width)
        return np.ascontiguousarray(np.concatenate([before[:, shift:], frame[:, :shift]], axis=1))

    def frame_at(self, t_s: float) -> np.ndarray:
        """The frame at ``t_s`` with its own sensor noise (a pure function of ``t_s``)."""
        frame = self.clean_frame_at(t_s)
        if self.noise_sigma == 0.0:
            return frame
        key = zlib.crc32(f"{self.seed}:{round(t_s * 1e6)}".encode())
        noise = np.random.default_rng(key).normal(0.0, self.noise_sigma, frame.shape)
        return np.clip(frame + noise, 0, 255).astype(np.uint8)


def still_view(photo: Path = STILL_PHOTO, noise_sigma: float = SENSOR_NOISE_SIGMA,
               **kwargs) -> NoisyView:
    """A camera held on one photo, with sensor noise."""
    return NoisyView([photo], 3600.0, noise_sigma=noise_sigma, **kwargs)


def changing_view(every_s: float = 2.0, turn_s: float = 0.4,
                  noise_sigma: float = SENSOR_NOISE_SIGMA, **kwargs) -> NoisyView:
    """A camera turned to another demo scene every ``every_s`` seconds, with noise."""
    return NoisyView(CHANGING_PHOTOS, every_s, noise_sigma=noise_sigma, turn_s=turn_s, **kwargs)
