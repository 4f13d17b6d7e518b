"""A picture of what was heard: p over the corpus timeline for each input frame.

One row per vision frame (time runs down), one column per slice of the corpus
timeline; brightness is the probability density of drawing a grain there
(p per keyframe spread over that keyframe's span). Scene bands are labelled
above, and each row is labelled with what the camera showed. Drawn with
Pillow so no plotting library is needed on the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Distinct, colour-blind-friendly band colours (Okabe-Ito).
PALETTE = [
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (240, 228, 66),
    (0, 114, 178),
    (213, 94, 0),
    (204, 121, 167),
    (153, 153, 153),
]


def density_row(
    p: np.ndarray, keyframe_times: np.ndarray, duration_s: float, width: int
) -> np.ndarray:
    """p per keyframe → density per pixel column over ``[0, duration_s)``."""
    edges = np.append(keyframe_times, duration_s)
    centres = (np.arange(width) + 0.5) * duration_s / width
    k = np.clip(np.searchsorted(edges, centres, side="right") - 1, 0, len(p) - 1)
    spans = np.maximum(np.diff(edges), 1e-9)
    return (p / spans)[k]


def plot_probability(
    path: Path,
    rows: Sequence[tuple[float, np.ndarray]],
    keyframe_times: np.ndarray,
    duration_s: float,
    scene_spans: Sequence[tuple[str, float, float]],
    row_labels: Sequence[str] = (),
    title: str = "",
    width: int = 1000,
) -> Path:
    """Write the PNG and return its path."""
    font = _font(13)
    left, top, row_h = 170, 58, max(4, min(24, 600 // max(1, len(rows))))
    height = top + row_h * len(rows) + 30
    img = Image.new("RGB", (left + width + 10, height), (20, 20, 24))
    draw = ImageDraw.Draw(img)
    draw.text((10, 6), title, fill=(240, 240, 240), font=font)
    scale = width / duration_s
    for i, (scene, start, end) in enumerate(scene_spans):
        x0, x1 = left + int(start * scale), left + int(end * scale)
        colour = PALETTE[i % len(PALETTE)]
        draw.rectangle([x0, 28, max(x0, x1 - 1), 50], fill=colour)
        draw.text((x0 + 3, 31), scene, fill=(0, 0, 0), font=font)
    densities = np.stack([density_row(p, keyframe_times, duration_s, width) for _, p in rows])
    peak = float(densities.max()) or 1.0
    heat = (255 * np.sqrt(densities / peak)).astype(np.uint8)  # sqrt: show the floor too
    heat = np.repeat(heat, row_h, axis=0)
    rgb = np.stack([heat, (heat * 0.85).astype(np.uint8), (heat * 0.4).astype(np.uint8)], -1)
    img.paste(Image.fromarray(rgb), (left, top))
    for r, (t, _) in enumerate(rows):
        if row_h >= 10 or r % max(1, 12 // row_h) == 0:
            label = row_labels[r] if r < len(row_labels) else ""
            label = label.rsplit("/", 1)[-1]  # "forest/forest_path": the scene band says forest
            draw.text(
                (6, top + r * row_h), f"{t:5.1f}s {label}"[:24], fill=(200, 200, 200), font=font
            )
    draw.text(
        (left, height - 22),
        f"corpus timeline 0-{duration_s:.0f} s  (brightness: chance of a grain)",
        fill=(180, 180, 180),
        font=font,
    )
    path = Path(path)
    img.save(path)
    return path


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()
