"""The ResNet50's own ImageNet classifier, applied to the pooled embedding.

``models/imagenet_head.npz`` holds the network's ``fc1000`` layer (2048 →
1000, the layer ``models/resnet50_int8.tflite`` stops before), as int8 rows
with one float32 scale each (``scripts/build_classifier_head.py`` writes it
from the same weights package as the model). Applied to the dequantized
embedding it gives the class posterior the network was trained to give: it
tells a cup, a wall clock or a couch from a meadow or a hen, which is what
the matching needs to recognise a sight that none of a corpus' pictures shows
(corpus/known.py).

Cost: one 1000 × 2048 float32 matrix-vector product (8 MB, kept dequantized),
0.2–0.8 ms on a 2-core x86 machine; on a Pi 4 a few ms beside a ResNet50 of
~200 ms (``scripts/bench``: ``classes_ms``).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from appliance import MODELS_DIR
from appliance.errors import ModelError

DEFAULT_HEAD = MODELS_DIR / "imagenet_head.npz"
N_CLASSES = 1000
EMBEDDING_SIZE = 2048


class ClassHead:
    """ImageNet class posteriors from pooled ResNet50 embeddings (thread-safe, read-only)."""

    def __init__(self, path: Path | str = DEFAULT_HEAD) -> None:
        self.path = Path(path)
        try:
            with np.load(self.path, allow_pickle=False) as z:
                kernel, scale, bias, labels = z["kernel"], z["scale"], z["bias"], z["labels"]
        except FileNotFoundError as exc:
            raise ModelError(f"classifier head {self.path} not found; rebuild it with: "
                             "python scripts/build_classifier_head.py") from exc
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"classifier head {self.path} could not be read: {exc}; rebuild "
                             "it with: python scripts/build_classifier_head.py") from exc
        shape = (N_CLASSES, EMBEDDING_SIZE)
        if (kernel.dtype != np.int8 or kernel.shape != shape or scale.shape != (N_CLASSES,)
                or bias.shape != (N_CLASSES,) or labels.shape != (N_CLASSES,)
                or not (np.isfinite(scale).all() and np.isfinite(bias).all())):
            raise ModelError(f"classifier head {self.path} has the wrong layout; rebuild it "
                             "with: python scripts/build_classifier_head.py")
        self.weights = (kernel.astype(np.float32) * scale.astype(np.float32)[:, None])
        self.bias = bias.astype(np.float32)
        self.labels: tuple[str, ...] = tuple(str(s) for s in labels)

    def logits(self, vectors: np.ndarray) -> np.ndarray:
        """(N, 1000) or (1000,) float32 logits for pooled embeddings (N, 2048) or (2048,)."""
        v = np.asarray(vectors, dtype=np.float32)
        if v.ndim == 1:
            # One frame: einsum's own loop, not BLAS. Right after the matcher's Numba
            # kernels BLAS waits for its threads (2 ms measured, against 0.8 ms).
            return np.einsum("cd,d->c", self.weights, v) + self.bias
        return v @ self.weights.T + self.bias

    def posterior(self, vectors: np.ndarray, temperature: float = 1.0) -> np.ndarray:
        """Softmax of ``logits / temperature`` (float64, each row sums to 1)."""
        z = self.logits(vectors).astype(np.float64) / temperature
        z -= z.max(axis=-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=-1, keepdims=True)

    def top(self, vector: np.ndarray, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` most probable classes of one embedding: (label, probability)."""
        p = self.posterior(vector)
        order = np.argsort(-p)[:n]
        return [(self.labels[i], float(p[i])) for i in order]


_lock = threading.Lock()
_cache: dict[Path, ClassHead] = {}


def class_head(path: Path | str = DEFAULT_HEAD) -> ClassHead:
    """The head at ``path``, loaded once per process (8 MB)."""
    key = Path(path).resolve()
    with _lock:
        head = _cache.get(key)
        if head is None:
            head = _cache[key] = ClassHead(key)
        return head
