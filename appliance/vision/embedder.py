"""ResNet50 int8 embedder: an RGB frame in, a 2048-d float32 vector out.

Shapes and quantization parameters are read from the model, never assumed:
the model takes ``[1, S, S, 3]`` uint8 RGB (preprocessing is folded into the
graph) and gives the pooled ``[1, 2048]`` features and, optionally, the
``[1, 7, 7, 2048]`` feature map before pooling (used to place sounds left or
right). Outputs are told apart by shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance import DEFAULT_MODEL
from appliance.errors import ModelInvalidError
from appliance.vision.images import load_rgb, square_resize
from appliance.vision.runtime import load_interpreter


@dataclass(frozen=True)
class _Output:
    index: int
    scale: float
    zero_point: int


@dataclass(frozen=True)
class Embedding:
    """One frame's features: ``vector`` (D,) float32 and ``feature_map`` (H, W, D) or None."""

    vector: np.ndarray
    feature_map: np.ndarray | None


class Embedder:
    """Wraps one TFLite interpreter; not thread-safe (use one per thread)."""

    def __init__(
        self,
        model_path: Path | str = DEFAULT_MODEL,
        num_threads: int = 2,
        runtime: str | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.num_threads = int(num_threads)
        self.runtime, self._interp = load_interpreter(self.model_path, self.num_threads, runtime)
        self._check_and_bind()

    def _fail(self, what: str) -> ModelInvalidError:
        return ModelInvalidError(
            f"model file {self.model_path} is not the expected embedding network: {what}",
            fix="rebuild it with: python scripts/build_model.py (see models/README.md)",
        )

    def _check_and_bind(self) -> None:
        inputs = self._interp.get_input_details()
        if len(inputs) != 1:
            raise self._fail(f"expected 1 input, found {len(inputs)}")
        inp = inputs[0]
        shape = tuple(int(x) for x in inp["shape"])
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or shape[1] != shape[2]:
            raise self._fail(f"input shape {shape} is not [1, S, S, 3]")
        if inp["dtype"] is not np.uint8:
            raise self._fail(f"input dtype {np.dtype(inp['dtype']).name} is not uint8")
        scale, zero = inp["quantization"]
        if (scale, zero) not in ((1.0, 0), (0.0, 0)):
            raise self._fail(
                f"input quantization (scale {scale}, zero point {zero}) is not raw pixels"
            )
        self._input_index = int(inp["index"])
        self.input_size = shape[1]

        pooled = fmap = None
        for out in self._interp.get_output_details():
            oshape = tuple(int(x) for x in out["shape"])
            scale, zero = out["quantization"]
            if out["dtype"] is np.float32:
                scale, zero = 1.0, 0
            bound = _Output(int(out["index"]), float(scale), int(zero))
            if len(oshape) == 2 and oshape[0] == 1:
                pooled, self.dim = bound, oshape[1]
            elif len(oshape) == 4 and oshape[0] == 1:
                fmap, self.feature_map_shape = bound, oshape[1:]
        if pooled is None:
            raise self._fail("no [1, D] pooled output")
        self._pooled, self._fmap = pooled, fmap

    @property
    def has_feature_map(self) -> bool:
        return self._fmap is not None

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        """Apply the resize policy: any H×W×3 uint8 frame → S×S×3 (see images.py)."""
        return square_resize(rgb, self.input_size)

    def invoke(self, square: np.ndarray) -> None:
        """Run the network on an already prepared S×S×3 uint8 image."""
        self._interp.set_tensor(self._input_index, square[np.newaxis])
        self.run()

    def run(self) -> None:
        """Run the network once more on the input already set (the bare inference)."""
        self._interp.invoke()

    def _read(self, out: _Output) -> np.ndarray:
        q = self._interp.get_tensor(out.index)[0]
        return (q.astype(np.float32) - np.float32(out.zero_point)) * np.float32(out.scale)

    def embed(self, rgb: np.ndarray) -> np.ndarray:
        """Embed one RGB frame (H×W×3 uint8): the pooled features, (D,) float32."""
        self.invoke(self.prepare(rgb))
        return self._read(self._pooled)

    def embed_full(self, rgb: np.ndarray) -> Embedding:
        """Embed one frame and also return the pre-pooling feature map when the model has one."""
        self.invoke(self.prepare(rgb))
        fmap = self._read(self._fmap) if self._fmap is not None else None
        return Embedding(self._read(self._pooled), fmap)

    def embed_file(self, path: Path | str) -> np.ndarray:
        """Read an image file and embed it."""
        return self.embed(load_rgb(Path(path)))
