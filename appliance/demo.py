"""``soundscape demo``: the main job on the embedded demo photos.

Embeds every demo photo with the int8 ResNet50 and prints, for each, the
photos most alike (smallest euclidean distance). Later stages turn this into
a soundscape.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from appliance import DEMO_MEDIA
from appliance.vision.embedder import Embedder
from appliance.vision.images import IMAGE_SUFFIXES


def demo_photos(root: Path = DEMO_MEDIA) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def run_demo(args: argparse.Namespace) -> int:
    photos = demo_photos()
    embedder = Embedder(args.model, num_threads=args.threads)
    t0 = time.perf_counter()
    vectors = np.stack([embedder.embed_file(p) for p in photos])
    took = time.perf_counter() - t0
    print(
        f"Embedded {len(photos)} demo photos with {embedder.runtime} in {took:.1f} s "
        f"({1000 * took / len(photos):.0f} ms each, {args.threads} threads)."
    )
    d = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=-1)
    np.fill_diagonal(d, np.inf)
    for i, p in enumerate(photos):
        near = np.argsort(d[i])[:3]
        names = ", ".join(f"{photos[j].relative_to(DEMO_MEDIA)} ({d[i, j]:.0f})" for j in near)
        print(f"{p.relative_to(DEMO_MEDIA)} is most like: {names}")
    return 0
