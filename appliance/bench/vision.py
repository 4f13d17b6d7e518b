"""Vision: per-frame embed time (RGB array → vector) against raw ``invoke()`` alone.

Measured with 1 and 2 threads, on every TFLite runtime present in this
environment (ai-edge-litert, and tflite-runtime when installed — it needs
numpy < 2, so usually in its own environment: see ``SOUNDSCAPE_TFLITE_VENV``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

from appliance import DEFAULT_MODEL, PROJECT_ROOT
from appliance.bench import say, time_it
from appliance.vision.runtime import find_interpreter_class

# A USB webcam's usual VGA frame, measured beside the appliance's own capture size.
VGA = (640, 480)


def measure(
    runtime: str | None, threads: int, repeat: int, size: tuple[int, int]
) -> dict[str, float]:
    """Median milliseconds of embed() on a ``size`` (width, height) frame and of invoke()."""
    from appliance.vision.embedder import Embedder

    emb = Embedder(DEFAULT_MODEL, num_threads=threads, runtime=runtime)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    square = emb.prepare(frame)
    emb.invoke(square)
    embed_s = time_it(lambda: emb.embed(frame), repeat)
    invoke_s = time_it(lambda: emb.run(), repeat)
    return {
        "embed_ms": 1000 * statistics.median(embed_s),
        "invoke_ms": 1000 * statistics.median(invoke_s),
    }


def _other_env(
    python: str, threads: int, repeat: int, size: tuple[int, int]
) -> dict[str, float] | str:
    """Run :func:`measure` for tflite-runtime in its own interpreter (numpy < 2 there)."""
    code = (
        "import json,sys; from appliance.bench.vision import measure; "
        f"print(json.dumps(measure('tflite_runtime', {threads}, {repeat}, {tuple(size)})))"
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        return f"failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> dict[str, object]:
    from appliance.camera.base import DEFAULT_FRAME_SIZE

    repeat = 5 if quick else 30
    out: dict[str, object] = {"embed_frame": "{}x{}".format(*DEFAULT_FRAME_SIZE)}
    name, _ = find_interpreter_class()
    for threads in (1, 2):
        suffix = "" if threads == 2 else "_1t"
        # The appliance's capture size (the headline), then a VGA webcam frame.
        for size, key in ((DEFAULT_FRAME_SIZE, suffix), (VGA, f"_vga{suffix}")):
            m = measure(None, threads, repeat, size)
            ratio = m["embed_ms"] / m["invoke_ms"]
            say(
                f"{name} {threads} thread(s), {size[0]}×{size[1]} frame: embed "
                f"{m['embed_ms']:.1f} ms, invoke {m['invoke_ms']:.1f} ms, overhead ×{ratio:.3f}"
            )
            out[f"embed_ms{key}"] = round(m["embed_ms"], 2)
            out[f"embed_overhead{key}"] = round(ratio, 3)
            if size == DEFAULT_FRAME_SIZE:
                out[f"invoke_ms{suffix}"] = round(m["invoke_ms"], 2)
    out["runtime"] = name
    venv = os.environ.get("SOUNDSCAPE_TFLITE_VENV", str(PROJECT_ROOT / ".venv-tflite"))
    python = Path(venv) / "bin" / "python"
    if python.exists():
        for threads in (1, 2):
            m = _other_env(str(python), threads, repeat, DEFAULT_FRAME_SIZE)
            suffix = "" if threads == 2 else "_1t"
            if isinstance(m, str):
                out[f"tflite_runtime_embed_ms{suffix}"] = m
                say(f"tflite-runtime {threads} thread(s): {m}")
                continue
            say(
                f"tflite-runtime {threads} thread(s): embed {m['embed_ms']:.1f} ms, "
                f"invoke {m['invoke_ms']:.1f} ms"
            )
            out[f"tflite_runtime_embed_ms{suffix}"] = round(m["embed_ms"], 2)
            out[f"tflite_runtime_invoke_ms{suffix}"] = round(m["invoke_ms"], 2)
            ref = out[f"invoke_ms{suffix}"]
            out[f"litert_vs_tflite_runtime_invoke{suffix}"] = round(m["invoke_ms"] / ref, 3)
    else:
        out["tflite_runtime_embed_ms"] = f"skipped: no {python}"
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv)))
