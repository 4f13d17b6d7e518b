"""A stand-in embedder that needs no model, as gpiozero ships mock pins.

:class:`FakeEmbedder` has the :class:`~appliance.vision.embedder.Embedder`'s
interface (``embed``, ``embed_full``, ``has_feature_map``, ``dim``,
``model_path``, ``runtime``) and answers in microseconds: a frame's vector is a
fixed random projection (seeded) of its colours on a coarse grid, so equal
frames give equal vectors and different pictures different ones, and its
feature map keeps where colours are in the frame (left stays left). It says
nothing about what a picture shows: use it where the engine is tested, not the
model (matching quality is tested on the real model).

``model_path`` names the real model by default, so corpora built for it load:
a fake embedding matched against them gives some p, which is all the engine
needs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from appliance import DEFAULT_MODEL
from appliance.vision.embedder import Embedding

#: The grid a frame is averaged on (rows, columns), and ResNet50's output sizes.
GRID = (7, 7)
DIM = 2048


class FakeEmbedder:
    """Deterministic embeddings without a model; see the module docstring."""

    runtime = "fake"

    def __init__(
        self,
        model_path: Path | str = DEFAULT_MODEL,
        dim: int = DIM,
        feature_map: bool = True,
        seed: int = 0,
    ) -> None:
        self.model_path = Path(model_path)
        self.dim = int(dim)
        self.feature_map_shape = (*GRID, self.dim) if feature_map else None
        rng = np.random.default_rng(seed)
        self._projection = np.abs(rng.standard_normal((3, self.dim))).astype(np.float32)
        #: Frames embedded so far.
        self.calls = 0

    @property
    def has_feature_map(self) -> bool:
        return self.feature_map_shape is not None

    def _cells(self, rgb: np.ndarray) -> np.ndarray:
        """Mean colour (0–1) of each grid cell: (rows, cols, 3) float32."""
        frame = np.asarray(rgb, dtype=np.float32) / 255.0
        rows, cols = GRID
        h, w = frame.shape[:2]
        ys = np.linspace(0, h, rows + 1).astype(int)
        xs = np.linspace(0, w, cols + 1).astype(int)
        out = np.zeros((rows, cols, 3), np.float32)
        for i in range(rows):
            for j in range(cols):
                cell = frame[ys[i] : max(ys[i + 1], ys[i] + 1), xs[j] : max(xs[j + 1], xs[j] + 1)]
                out[i, j] = cell.reshape(-1, 3).mean(axis=0)
        return out

    def embed(self, rgb: np.ndarray) -> np.ndarray:
        """The frame's (dim,) float32 vector (non-negative, like pooled ReLU features)."""
        return self.embed_full(rgb).vector

    def embed_full(self, rgb: np.ndarray) -> Embedding:
        """The vector and, when enabled, a (7, 7, dim) feature map."""
        self.calls += 1
        fmap = self._cells(rgb) @ self._projection  # (rows, cols, dim)
        vector = fmap.mean(axis=(0, 1)).astype(np.float32)
        return Embedding(vector, fmap.astype(np.float32) if self.has_feature_map else None)
