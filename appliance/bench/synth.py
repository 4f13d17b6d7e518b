"""Synth: real-time factor of the Numba granulator beside a NumPy reference and pyo.

The paper's settings: 48 kHz stereo out, 100 grains/s of 50–100 ms, block 512, one
thread, a real stereo recording as the source. Each real-time factor is audio seconds
over wall seconds, the best of several short windows (the machine may be shared: the
best window is the one least disturbed). pyo 1.1.0's ``Particle`` renders the same
settings with an offline server in a subprocess (random position, duration and pan per
grain from ``Noise`` streams); ``pyo_rtf_fixed_params`` is pyo with constant position,
duration and pan, its cheapest case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from appliance import DEMO_MEDIA, PROJECT_ROOT
from appliance.bench import say

SAMPLE_RATE = 48000
BLOCK = 512
SOURCE = DEMO_MEDIA / "forest" / "forest_birdsong_birch.ogg"

_WARM_UP = "from appliance.synth import warm_up; print(warm_up())"

# Run in a subprocess: pyo's server is a process-wide singleton and prints banners.
_PYO = r"""
import json, sys, time
sr, seconds, repeats, wav, out, randomized = sys.argv[1:7]
sr, seconds, repeats = int(sr), float(seconds), int(repeats)
from pyo import HannTable, Noise, Particle, Server, SndTable
s = Server(sr=sr, nchnls=2, buffersize=512, duplex=0, audio="offline", verbosity=0).boot()
table = SndTable(wav)
size = table.getSize()
size = size[0] if isinstance(size, list) else size
room = size - int(0.1 * sr)  # starts leave room for the longest grain
if randomized == "1":
    pos = Noise(mul=room / 2, add=room / 2)  # uniform over the timeline
    dur = Noise(mul=0.025, add=0.075)  # uniform 50-100 ms
    pan = Noise(mul=0.3, add=0.5)  # spread 0.6 around the centre
else:
    pos, dur, pan = room / 2, 0.075, 0.5
grains = Particle(table, HannTable(), dens=100, pitch=1, pos=pos, dur=dur, dev=0.5, pan=pan,
                  chnls=2).out()
best = float("inf")
for _ in range(repeats):
    s.recordOptions(dur=seconds, filename=out, fileformat=0, sampletype=3)
    t0 = time.perf_counter()
    s.start()  # offline: renders the whole duration, then returns
    best = min(best, time.perf_counter() - t0)
print(json.dumps({"rtf": seconds / best}))
"""


def _best_rtf(render, seconds_per_window: float, windows: int) -> float:
    """Audio seconds / wall seconds of ``render()`` (one block), best of ``windows``."""
    blocks = max(1, round(seconds_per_window * SAMPLE_RATE / BLOCK))
    for _ in range(50):
        render()
    best = float("inf")
    for _ in range(windows):
        t0 = time.perf_counter()
        for _ in range(blocks):
            render()
        best = min(best, time.perf_counter() - t0)
    return blocks * BLOCK / SAMPLE_RATE / best


def _compile_times() -> tuple[float, float]:
    """warm_up() seconds in a fresh process: empty cache (cold), then the same cache."""
    env = dict(os.environ)
    times = []
    with tempfile.TemporaryDirectory(prefix="numba-cache-") as cache:
        env["NUMBA_CACHE_DIR"] = cache
        for _ in range(2):
            done = subprocess.run(
                [sys.executable, "-c", _WARM_UP], env=env, cwd=PROJECT_ROOT,
                capture_output=True, text=True, check=True,
            )
            times.append(float(done.stdout.strip().splitlines()[-1]))
    return times[0], times[1]


def _pyo_rtf(wav: Path, seconds: float, repeats: int, randomized: bool) -> float | str:
    """pyo Particle's real-time factor, or why it could not run."""
    with tempfile.TemporaryDirectory(prefix="pyo-") as tmp:
        args = [str(SAMPLE_RATE), str(seconds), str(repeats), str(wav),
                str(Path(tmp) / "out.wav"), "1" if randomized else "0"]
        try:
            done = subprocess.run(
                [sys.executable, "-c", _PYO, *args], capture_output=True, text=True, timeout=600,
            )
        except subprocess.TimeoutExpired:
            return "pyo did not finish within 600 s"
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if "No module named 'pyo'" in done.stderr:
            return "pyo is not installed (pip install pyo==1.1.0, the 'bench' extra)"
        return f"pyo failed: {tail}"
    for line in reversed(done.stdout.strip().splitlines()):
        if line.startswith("{"):
            return float(json.loads(line)["rtf"])
    return "pyo printed no result"


def run(quick: bool) -> dict[str, float | int | str]:
    import soundfile as sf

    from appliance.media import decode_audio
    from appliance.synth import Granulator, Source
    from appliance.synth.reference import NumpyGranulator

    windows, numpy_windows, pyo_seconds, pyo_repeats = (
        (8, 2, 3.0, 1) if quick else (40, 6, 10.0, 3)
    )
    cold, cached = _compile_times()
    say(f"compile: cold {cold:.2f} s, cached {cached:.2f} s (warm_up() in a fresh process)")

    audio = decode_audio(SOURCE, SAMPLE_RATE)
    source = Source.from_audio(audio, SAMPLE_RATE)
    say(f"source: {SOURCE.relative_to(DEMO_MEDIA)}, {source.frames / SAMPLE_RATE:.1f} s stereo, "
        f"{source.keyframes} keyframes, {source.loudness_lufs:.1f} LUFS")

    synth = Granulator(SAMPLE_RATE, BLOCK, seed=1)
    synth.set_source(source, crossfade=False)
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    synth_rtf = _best_rtf(lambda: synth.render(out), 1.0, windows)
    s16 = np.zeros(2 * BLOCK, dtype=np.int16)
    synth_rtf_s16 = _best_rtf(lambda: synth.render_int16(s16), 1.0, windows)
    stats = synth.stats
    say(f"numba granulator: {synth_rtf:.0f}x real time ({1e6 * BLOCK / SAMPLE_RATE / synth_rtf:.2f}"
        f" us/block), int16 out {synth_rtf_s16:.0f}x; {stats.active_voices} voices sounding, "
        f"{stats.grains_dropped} dropped")

    ref = NumpyGranulator(SAMPLE_RATE, BLOCK, seed=1)
    ref.set_source(source)
    numpy_rtf = _best_rtf(lambda: ref.render(out), 1.0, numpy_windows)
    say(f"numpy reference: {numpy_rtf:.1f}x real time")

    with tempfile.TemporaryDirectory(prefix="synth-bench-") as tmp:
        wav = Path(tmp) / "source.wav"
        sf.write(wav, audio, SAMPLE_RATE, subtype="FLOAT")
        pyo_rtf = _pyo_rtf(wav, pyo_seconds, pyo_repeats, randomized=True)
        pyo_fixed = _pyo_rtf(wav, pyo_seconds, pyo_repeats, randomized=False)
    if isinstance(pyo_rtf, float):
        say(f"pyo Particle: {pyo_rtf:.1f}x real time (same settings); "
            f"{pyo_fixed if isinstance(pyo_fixed, str) else f'{pyo_fixed:.1f}x'} with fixed params")
        vs_pyo: float | str = synth_rtf / pyo_rtf
    else:
        say(f"pyo Particle: {pyo_rtf}")
        vs_pyo = f"n/a: {pyo_rtf}"
    return {
        "synth_rtf": round(synth_rtf, 1),
        "synth_rtf_s16": round(synth_rtf_s16, 1),
        "numpy_rtf": round(numpy_rtf, 2),
        "pyo_rtf": round(pyo_rtf, 2) if isinstance(pyo_rtf, float) else pyo_rtf,
        "pyo_rtf_fixed_params": round(pyo_fixed, 2) if isinstance(pyo_fixed, float) else pyo_fixed,
        "compile_cold_s": round(cold, 2),
        "compile_cached_s": round(cached, 3),
        "synth_vs_numpy": round(synth_rtf / numpy_rtf, 1),
        "synth_vs_pyo": round(vs_pyo, 1) if isinstance(vs_pyo, float) else vs_pyo,
    }
