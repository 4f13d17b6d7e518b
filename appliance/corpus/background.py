"""The background: photos of ordinary places that no corpus has sound for.

Why: to the network a sea, a lake under mountains, a glacier or a city
skyline are the same seashore, lakeside, alp and pier as the corpus' own
harbour and valleys, so their classes are covered by the corpus' class
envelopes (known.py) and their nearest keyframes are as near as those of new
views of the corpus' places. What does tell them apart is that they are
*nearer still* to pictures of such places. ``corpora/background/`` holds such
pictures (none of them a corpus or development photo; credits in its
CREDITS.md), and every corpus built since builder 8 carries their rows in its
own matching space: each photo, its mirror image and its closer look
(``VARIANTS``), with the visual, class and kind parts, and the background's
mean place on the corpus' scene axes (discriminant.py). Rows nearer than
``PRUNE_NEARER`` to one of the corpus' keyframes are left out of that corpus.

Per frame, the kernel over the corpus' keyframes (their time prior) and the
background rows (``share / B`` each) together gives ``b``, the share that
falls on the background; the unknown-sight factor is multiplied by
``1 − b`` (matcher.py; the distances of this test keep the scene part
uncompressed, as builder 8 measured it: discriminant.py). It is one factor
per frame, so within a frame p stays monotone in distance, and p tends to the
time-uniform one as ``b`` → 1: a frame of an ordinary place sounds like
"somewhere".

The photos' pooled vectors are stored beside them (``vectors.npy``, float16,
with the model's sha256 and each photo's sha256 in ``vectors.json``) so that a
build does not embed them again: ``scripts/build_background.py`` rewrites
them. When they do not match (another model, photos added), the builder
embeds the photos itself and says so.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from appliance import CORPORA_DIR
from appliance.corpus import classpart
from appliance.corpus.augment import apply_variant
from appliance.corpus.model_id import cached_file_sha256, model_sha256

log = logging.getLogger(__name__)

BACKGROUND_DIR = CORPORA_DIR / "background"
VECTORS, INDEX = "vectors.npy", "vectors.json"
#: Each photo and these variants (augment.py), as the demo corpora's photos.
VARIANTS: tuple[str, ...] = ("", "flip", "zoom")
#: The background's prior weight against the corpus' whole timeline (which has 1): small,
#: so that a frame must be clearly nearer to it than to any keyframe (measured on the
#: development set: corpora/README.md, "Eleventh round").
SHARE = 0.01
#: Background rows nearer than this to a keyframe of the corpus, in the fixed parts, are
#: left out of it: as near as a new view of the corpus' own place would be (about the
#: 75th percentile ``D_NEAR``, calibrate.py), they would take such views for ordinary
#: places (a user's own beach video keeps its beaches). Measured: "Eleventh round".
PRUNE_NEARER = 1.0
_SUFFIXES = (".jpg", ".jpeg", ".png")


def photo_files(directory: Path | None = None) -> list[Path]:
    """The background photos, in name order ([] when the folder is absent)."""
    directory = BACKGROUND_DIR if directory is None else directory
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir()
                  if p.is_file() and p.suffix.lower() in _SUFFIXES)


def _index(photos: list[Path], sha: str) -> dict:
    return {"model_sha256": sha, "variants": list(VARIANTS),
            "photos": [[p.name, cached_file_sha256(p)] for p in photos]}


def embed_photos(embedder, photos: list[Path]) -> np.ndarray:
    """Pooled vectors (float32 (len(photos) × len(VARIANTS), 2048)) of each photo's variants."""
    from appliance.vision.images import load_rgb

    rows = []
    for p in photos:
        rgb = load_rgb(p)
        rows.extend(np.asarray(embedder.embed(apply_variant(v, rgb)), dtype=np.float32)
                    for v in VARIANTS)
    return np.stack(rows)


def load_background(embedder, directory: Path | None = None) -> np.ndarray | None:
    """The background's raw pooled vectors (float32 (B, 2048), one row per photo and
    variant, in photo-name × ``VARIANTS`` order) for corpora built with ``embedder``'s
    model: the stored vectors when they were made with this model from these photos, else
    the photos embedded now (a warning says how to store them). None when there are no
    background photos."""
    directory = BACKGROUND_DIR if directory is None else directory
    photos = photo_files(directory)
    if not photos:
        log.warning("no background photos in %s: unknown sights are judged without them",
                    directory)
        return None
    want = _index(photos, model_sha256(embedder.model_path))
    try:
        stored = json.loads((directory / INDEX).read_text(encoding="utf-8"))
        vectors = np.load(directory / VECTORS, allow_pickle=False)
        fresh = stored == want and vectors.shape == (len(photos) * len(VARIANTS),
                                                      vectors.shape[1])
    except (OSError, ValueError):
        fresh = False
    if fresh:
        return vectors.astype(np.float32)
    log.warning("%s: the stored background vectors are not this model's or these photos'; "
                "embedding %d photos now (store them with: python scripts/build_background.py)",
                directory, len(photos))
    return embed_photos(embedder, photos)


def write_vectors(embedder, directory: Path | None = None) -> int:
    """Embed the background photos with ``embedder`` and store their vectors atomically
    (``vectors.npy`` and ``vectors.json``); return the number of rows."""
    directory = BACKGROUND_DIR if directory is None else directory
    photos = photo_files(directory)
    if not photos:
        raise FileNotFoundError(f"no background photos in {directory}")
    vectors = embed_photos(embedder, photos).astype(np.float16)
    index = _index(photos, model_sha256(embedder.model_path))
    for name, write in ((VECTORS, lambda f: np.save(f, vectors, allow_pickle=False)),
                        (INDEX, lambda f: f.write((json.dumps(index, indent=1) + "\n")
                                                  .encode()))):
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; these are shared files
            os.replace(tmp, directory / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return len(vectors)


def nearest_keyframe(bg_rows: np.ndarray, rows: np.ndarray,
                     class_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                             float]]) -> np.ndarray:
    """Each background row's distance (float64 (B,)) to its nearest keyframe in the fixed
    parts: visual rows (B, D) and (K, D), and per class or kind part (background idx, sq,
    keyframe idx, sq, weight)."""
    sq = np.einsum("kd,kd->k", rows, rows).astype(np.float64)
    out = np.empty(len(bg_rows))
    for start in range(0, len(bg_rows), 32):  # bounded memory for long video corpora
        part = bg_rows[start : start + 32]
        d2 = (np.einsum("bd,bd->b", part, part)[:, None] + sq[None, :]
              - 2.0 * (part @ rows.T).astype(np.float64))
        for b_idx, b_sq, idx, k_sq, weight in class_parts:
            d2 += weight**2 * classpart.pairwise_squared(b_idx[start : start + 32],
                                                         b_sq[start : start + 32], idx, k_sq)
        out[start : start + len(part)] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def background_share(d_keyframes: np.ndarray, uniform: np.ndarray, d_background: np.ndarray,
                     tau: float, share: float) -> float:
    """``b`` (0 … 1): the share of the kernel over keyframes (distances ``d_keyframes``, time
    prior ``uniform``) and background rows (``d_background``, prior ``share / B`` each)
    together that falls on the background."""
    lowest = min(float(d_keyframes.min()), float(d_background.min()))
    # A product and a sum, not a BLAS dot: BLAS threads would spin on the matcher's cores.
    own = float((uniform * np.exp(-(d_keyframes - lowest) / tau)).sum())
    other = share / len(d_background) * float(np.exp(-(d_background - lowest) / tau).sum())
    return other / (own + other)
