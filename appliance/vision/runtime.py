"""Find a TFLite interpreter: ai-edge-litert, then tflite-runtime, then TensorFlow.

All three expose the same ``Interpreter`` class; the first one that imports
wins. ``SOUNDSCAPE_TFLITE_RUNTIME`` forces one (``ai_edge_litert``,
``tflite_runtime`` or ``tensorflow``), which the compatibility test uses.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.errors import ModelInvalidError, ModelMissingError, RuntimeMissingError

RUNTIME_ORDER = ("ai_edge_litert", "tflite_runtime", "tensorflow")

_INTERPRETER_MODULES = {
    "ai_edge_litert": "ai_edge_litert.interpreter",
    "tflite_runtime": "tflite_runtime.interpreter",
    "tensorflow": "tensorflow.lite",
}


def find_interpreter_class(prefer: str | None = None) -> tuple[str, Callable[..., Any]]:
    """Return ``(runtime name, Interpreter class)`` of the first runtime that imports."""
    forced = prefer or os.environ.get("SOUNDSCAPE_TFLITE_RUNTIME")
    order = (forced,) if forced else RUNTIME_ORDER
    tried = []
    for name in order:
        if name not in _INTERPRETER_MODULES:
            raise RuntimeMissingError(
                f"unknown TFLite runtime {name!r}; choose one of {', '.join(RUNTIME_ORDER)}"
            )
        try:
            module = importlib.import_module(_INTERPRETER_MODULES[name])
        except ImportError as exc:
            tried.append(f"{name} ({exc})")
            continue
        return name, module.Interpreter
    raise RuntimeMissingError(
        "no TFLite runtime could be imported; tried: "
        + "; ".join(tried)
        + ". Install one: pip install ai-edge-litert"
    )


def load_interpreter(
    model_path: Path, num_threads: int = 2, runtime: str | None = None
) -> tuple[str, Any]:
    """Load and allocate ``model_path``; return ``(runtime name, interpreter)``.

    Raises :class:`ModelError` naming the file and how to rebuild it when the
    file is missing or not a TFLite flatbuffer.
    """
    model_path = Path(model_path)
    rebuild = "rebuild it with: python scripts/build_model.py (see models/README.md)"
    if not model_path.is_file():
        raise ModelMissingError(f"model file {model_path} not found", fix=rebuild)
    name, interpreter_class = find_interpreter_class(runtime)
    try:
        interpreter = interpreter_class(model_path=str(model_path), num_threads=int(num_threads))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelInvalidError(
            f"model file {model_path} could not be loaded ({exc})", fix=rebuild
        ) from exc
    return name, interpreter
