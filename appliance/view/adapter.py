"""What the live view reads from the engine, and the JSON event it builds from it.

The view never calls into the audio path: it reads the :class:`~appliance.engine.Snapshot`
the engine publishes anyway (a frozen object replaced whole, so a read is never torn),
the corpus that snapshot names, and the synthesizer's sounding grain positions
(``Granulator.sounding_positions()``, a small read-only copy made on the view's thread).

:class:`EngineAdapter` is the one place that knows the engine's attributes; anything
with the same four methods (``snapshot``, ``corpus_at``, ``corpus_named``,
``sounding_positions``) and ``block_s`` can stand in for it (the unit tests do).
"""

from __future__ import annotations

import logging
import math
from typing import Any, Protocol

import numpy as np

from appliance.view.images import scene_hues

log = logging.getLogger(__name__)

#: Most points of p over the timeline sent to the page.
MAX_BINS = 400
#: Most sounding grain positions sent to the page.
MAX_GRAINS = 256
#: Top keyframes shown as thumbnails.
TOP_N = 5


class ViewFeed(Protocol):
    """What the view needs from a running engine (see :class:`EngineAdapter`)."""

    #: Length of one audio block, s (to turn the render ratio into milliseconds); 0 = unknown.
    block_s: float

    def snapshot(self) -> Any:
        """The engine's latest :class:`~appliance.engine.Snapshot`."""

    def corpus_at(self, index: int) -> Any | None:
        """The corpus at ``index`` in the engine's button order, or None."""

    def corpus_named(self, name: str) -> Any | None:
        """The loaded corpus called ``name``, or None."""

    def sounding_positions(self) -> np.ndarray:
        """Source positions (s) of the grains sounding now."""


#: The former name of :class:`ViewFeed` (it was no relation of the synthesizer's
#: ``Source`` nor of ``corpus/sources.py``); kept for code that still imports it.
ViewSource = ViewFeed


class EngineAdapter:
    """:class:`ViewFeed` over a live :class:`~appliance.engine.Engine` (read-only)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        settings = getattr(engine, "settings", None)
        try:
            self.block_s = float(settings.block_size) / float(settings.sample_rate)
        except (AttributeError, TypeError, ValueError, ZeroDivisionError):
            self.block_s = 0.0

    def snapshot(self):
        return self.engine.snapshot

    def corpus_at(self, index: int):
        corpora = self.engine.corpora
        if 0 <= index < len(corpora):
            return corpora[index]
        return self.engine.current_corpus

    def corpus_named(self, name: str):
        for corpus in self.engine.corpora:
            if corpus.name == name:
                return corpus
        return None

    def sounding_positions(self) -> np.ndarray:
        try:
            return np.asarray(self.engine.synth.sounding_positions(), dtype=np.float64)
        except Exception:  # never let a view bug touch the engine
            log.debug("sounding_positions failed", exc_info=True)
            return np.zeros(0)


# ----------------------------------------------------------------- the event
def timeline_bins(p: np.ndarray, times: np.ndarray, duration_s: float, bins: int) -> np.ndarray:
    """p (mass per keyframe, keyframe k spanning [t_k, t_{k+1})) as mass per equal time bin.

    Mass is spread uniformly over each keyframe's span, so the result is the
    probability of each of ``bins`` equal stretches of the timeline (sums to
    ``p.sum()``); plotted, it is the density over time, however uneven the spans.
    """
    knots = np.append(np.asarray(times, np.float64), float(duration_s))
    cdf = np.concatenate([[0.0], np.cumsum(np.asarray(p, np.float64))])
    edges = np.linspace(0.0, float(duration_s), bins + 1)
    return np.diff(np.interp(edges, knots, cdf))


def interval_mass(p: np.ndarray, times: np.ndarray, duration_s: float,
                  start: float, end: float) -> float:
    """Probability of the stretch [start, end) of the timeline (see :func:`timeline_bins`)."""
    knots = np.append(np.asarray(times, np.float64), float(duration_s))
    cdf = np.concatenate([[0.0], np.cumsum(np.asarray(p, np.float64))])
    a, b = np.interp([start, end], knots, cdf)
    return float(b - a)


def _finite(x: float, digits: int = 3) -> float:
    x = float(x)
    return round(x, digits) if math.isfinite(x) else 0.0


def keyframe_index(times: np.ndarray, t: float) -> int:
    """Index of the keyframe starting at ``t`` s (the nearest one)."""
    i = int(np.searchsorted(times, t))
    if i >= len(times) or (i > 0 and abs(times[i - 1] - t) < abs(times[i] - t)):
        i -= 1
    return max(0, i)


def state_label(snap) -> str:
    if snap.sleeping:
        return "asleep"
    if snap.muted:
        return "muted"
    return "playing"


def build_event(source: ViewFeed, seq: int, bins: int = MAX_BINS,
                keyframe_url=None) -> dict:
    """The JSON-able state the page shows (no images: those have their own URLs).

    ``keyframe_url(corpus_name, k)`` gives a thumbnail's URL.
    """
    snap = source.snapshot()
    corpus = source.corpus_at(snap.corpus_index)
    if corpus is not None and snap.corpus_name and corpus.name != snap.corpus_name:
        corpus = source.corpus_named(snap.corpus_name) or corpus
    event: dict[str, Any] = {
        "seq": seq,
        "corpus": None,
        "state": {
            "label": state_label(snap),
            "volume": _finite(snap.volume),
            "muted": bool(snap.muted),
            "sleeping": bool(snap.sleeping),
            "timer_min": int(snap.timer_min),
        },
        "camera": {"description": str(snap.camera), "ok": bool(snap.camera_ok)},
        "frame": int(snap.frames_seen) if snap.frame is not None else None,
        "p": None,
        "p_peak": 0.0,
        "grains": [],
        "top": [],
        "stats": {
            "vision_fps": _finite(snap.vision_fps, 2),
            "inference_ms": _finite(snap.inference_ms, 1),
            "frames_seen": int(snap.frames_seen),
            "frames_read": int(snap.frames_read),
            "frames_embedded": int(snap.frames_embedded),
            "embedded_share": _finite(snap.embedded_share, 3),
            "xruns": int(snap.xruns),
            "deadline_misses": int(snap.deadline_misses),
            "blocks": int(snap.blocks),
            "max_block_render_ratio": _finite(snap.max_block_render_ratio, 3),
            "max_block_render_ms": _finite(snap.max_block_render_ratio * source.block_s * 1000,
                                           2),
            "grains_dropped": int(snap.grains_dropped),
        },
    }
    if corpus is None:
        return event
    times = np.asarray(corpus.keyframe_times, np.float64)
    duration = float(corpus.duration_s)
    p = snap.p
    # Right after a corpus switch the snapshot may still hold the old corpus' p.
    if p is not None and len(p) == len(times) and np.all(np.isfinite(p)) and p.sum() > 0:
        p = np.asarray(p, np.float64) / float(np.sum(p))
    else:
        p = None
    spans = corpus.scene_spans()
    hues = scene_hues(name for name, _, _ in spans)
    event["corpus"] = {
        "name": corpus.name,
        "index": int(snap.corpus_index),
        "duration_s": _finite(duration, 3),
        "keyframes": len(times),
        "scenes": [
            {
                "name": name,
                "hue": hues[name],
                "start": _finite(a, 3),
                "end": _finite(b, 3),
                "mass": _finite(interval_mass(p, times, duration, a, b), 4)
                if p is not None else None,
            }
            for name, a, b in spans
        ],
    }
    if p is not None:
        n = int(min(bins, max(1, len(times) * 4)))
        mass = timeline_bins(p, times, duration, n)
        peak = float(mass.max()) if mass.size else 0.0
        event["p"] = [round(float(v), 3) for v in (mass / peak if peak > 0 else mass)]
        event["p_peak"] = _finite(peak, 6)
    grains = np.asarray(source.sounding_positions(), np.float64)
    grains = grains[np.isfinite(grains) & (grains >= 0) & (grains <= duration)][:MAX_GRAINS]
    event["grains"] = [round(float(g), 2) for g in grains]
    top = []
    # The top keyframes belong to the p above: none while p is stale or missing.
    for entry in tuple(snap.top)[:TOP_N] if p is not None else ():
        t, scene, distance = entry[:3]
        pan = entry[3] if len(entry) > 3 else 0.0  # where its grains play, -1 left … 1 right
        k = keyframe_index(times, float(t))
        top.append({
            "k": k,
            "t": _finite(t, 2),
            "scene": str(scene),
            "distance": _finite(distance, 3),
            "pan": _finite(pan, 2),
            "src": keyframe_url(corpus.name, k) if keyframe_url else None,
        })
    event["top"] = top
    return event
