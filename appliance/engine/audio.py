"""The audio loop: render a block, mix the cues over it, write it to the sink, fade on stop.

Prepare / process, as Mutable Instruments' Clouds splits ``Prepare()`` from
``Process()``: every allocation and computation for a corpus switch, a new p or a
pan happens in :meth:`AudioLoop.prepare_corpus` and :meth:`AudioLoop.prepare_p`, on
the thread that asks (control, vision); they hand the synthesizer prepared arrays
by swapping one reference. :meth:`AudioLoop.process` runs on the audio thread: it
picks up what was prepared, renders into buffers allocated once, and never waits
on a lock, vision or I/O other than the sink. Volume, mute and fades are plain
floats the controller writes (a float store is atomic).

The sink is opened once: a sound card that is missing or goes away is the
sink's business (:class:`~appliance.audio.retry.RetryingSink`, the box's one
retry policy). Anything that still escapes is a bug: the loop records it in
:attr:`AudioLoop.failure` and stops the engine, so ``soundscape run`` exits
non-zero and systemd restarts it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

import numpy as np

from appliance.audio.base import AudioSink
from appliance.cues import CueMixer
from appliance.engine.settings import DUCK_GAIN, STOP_FADE_S, EngineSettings
from appliance.errors import AudioDeviceError
from appliance.synth import Granulator, Source

log = logging.getLogger(__name__)

#: Blocks at the start whose render time is not counted (page faults, cold caches).
WARM_UP_BLOCKS = 8


class AudioLoop:
    """The synthesizer, the cue mixer and the sink, driven one block at a time."""

    def __init__(
        self,
        settings: EngineSettings,
        synth: Granulator,
        mixer: CueMixer,
        sink: AudioSink,
        stop: threading.Event,
        on_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.settings = settings
        self.synth = synth
        self.mixer = mixer
        self.sink = sink
        self._stop = stop
        self._on_failure = on_failure
        # Written by the controller, read here once per block (plain floats and bools).
        #: The user's volume as linear gain (0–1).
        self.gain = 1.0
        #: The sleep timer's fade factor (0–1).
        self.fade = 1.0
        #: True while muted or asleep: only the cues are heard.
        self.silent = False
        self._stop_fade = 1.0
        #: What stopped the loop, if it failed.
        self.failure: BaseException | None = None
        # Health, written by the audio thread only.
        self.blocks = 0
        self.max_render_ratio = 0.0
        self.last_block_at = 0.0
        dtype = np.int32 if settings.sample_format == "S32_LE" else np.int16
        self._block = np.zeros(settings.block_size * 2, dtype)
        self._overlay = np.zeros((settings.block_size, 2), np.float32)
        self._render = self.synth.render_int16 if dtype == np.int16 else self.synth.render_int32

    # ---------------------------------------------------- prepare (any other thread)
    def prepare_corpus(self, source: Source, p: np.ndarray) -> None:
        """Prepare a switch to ``source`` with ``p`` (crossfaded); raises ValueError when
        the source cannot play, before anything changes on the audio thread."""
        self.synth.set_source(source, p)

    def prepare_p(self, source: Source, p: np.ndarray, pans: np.ndarray | None = None) -> bool:
        """Prepare a new p (and pan per keyframe) computed for ``source``; dropped (False)
        when another corpus was chosen meanwhile."""
        return self.synth.set_probability(p, pans, source=source)

    # ------------------------------------------------------------ process (audio thread)
    def gain_now(self, cue_active: bool) -> float:
        """The soundscape's linear gain for the next block (ducked under a cue)."""
        if self.silent:
            return 0.0
        gain = self.gain * self.fade * self._stop_fade
        return gain * DUCK_GAIN if cue_active else gain

    def process(self) -> np.ndarray:
        """Render one interleaved block (int16 or int32) with the cues mixed over it."""
        t0 = time.perf_counter()
        cue_active = self.mixer.mix(self._overlay)
        self.synth.set_volume(self.gain_now(cue_active))
        self._render(self._block, self._overlay)
        ratio = (time.perf_counter() - t0) * self.settings.sample_rate / self.settings.block_size
        if self.blocks > WARM_UP_BLOCKS:
            self.max_render_ratio = max(self.max_render_ratio, ratio)
        self.blocks += 1
        return self._block

    def run(self) -> None:
        """The audio thread: play until stopped, then fade out over STOP_FADE_S and close."""
        try:
            self._play()
        except Exception as exc:  # a bug: fail fast rather than go quietly silent
            log.exception("the audio loop failed; stopping so the service restarts")
            self.failure = exc
            if self._on_failure is not None:
                self._on_failure(exc)

    def _play(self) -> None:
        try_realtime_priority()
        step = self.settings.block_size / (STOP_FADE_S * self.settings.sample_rate)
        self.sink.open()
        try:
            while True:
                if self._stop.is_set():
                    if self._stop_fade <= 0.0 or self.gain_now(False) == 0.0:
                        break
                    self._stop_fade = max(0.0, self._stop_fade - step)
                self.sink.write(self.process())
                self.last_block_at = time.monotonic()
        finally:
            try:
                self.sink.close()
            except AudioDeviceError as exc:  # pragma: no cover - hardware only
                log.warning("closing the sound output: %s", exc)


_rt_warned = False


def try_realtime_priority(priority: int = 20) -> None:
    """Ask for SCHED_FIFO for the calling thread only; EPERM is logged once and ignored."""
    global _rt_warned
    try:
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_FIFO, os.sched_param(priority))
        log.info("audio thread runs with SCHED_FIFO priority %d", priority)
    except (PermissionError, OSError, AttributeError) as exc:
        if not _rt_warned:
            log.info("audio thread keeps normal priority (SCHED_FIFO refused: %s)", exc)
            _rt_warned = True
