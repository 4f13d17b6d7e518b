"""The Engine: the audio loop, the vision loop and the controller, wired together.

Nothing here renders, matches or decides: it makes the parts, starts their threads,
serves the control queue, reports health and composes the :class:`Snapshot`.
"""

from __future__ import annotations

import gc
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from appliance.audio.base import AudioSink
from appliance.camera.base import Camera, SimulatedCamera
from appliance.controls.actions import Action
from appliance.corpus import Corpus
from appliance.cues import PHRASES, CueBank, CueMixer
from appliance.engine.audio import AudioLoop
from appliance.engine.controller import Controller
from appliance.engine.offline import render_offline
from appliance.engine.settings import GIL_SWITCH_INTERVAL_S, EngineSettings
from appliance.engine.snapshot import Snapshot
from appliance.engine.vision import VisionLoop, make_detector
from appliance.state import State
from appliance.synth import Granulator
from appliance.vision.change import FrameCounts

log = logging.getLogger(__name__)

#: Seconds without an audio block (or a sign of life from vision) before unhealthy.
AUDIO_HEALTH_S = 2.0
VISION_HEALTH_S = 10.0


class Engine:
    """Owns the synthesizer, the corpora, the sink and the camera; see the package doc."""

    def __init__(
        self,
        settings: EngineSettings,
        corpora: Sequence[Corpus],
        embedder,
        sink: AudioSink,
        cues: CueBank,
        camera_opener: Callable[[], Camera] | None = None,
        state: State | None = None,
        state_path: Path | None = None,
        on_shutdown: Callable[[], None] | None = None,
    ) -> None:
        if not corpora:
            raise ValueError("the engine needs at least one corpus")
        self.settings = settings
        self.embedder = embedder
        self.sink = sink
        self.cues = cues
        self.camera_opener = camera_opener
        self.synth = Granulator(
            settings.sample_rate, settings.block_size, settings.params, seed=settings.seed
        )
        self.mixer = CueMixer()
        #: Actions from buttons, keys and signals; ``None`` only wakes :meth:`serve`.
        self.actions: queue.SimpleQueue[Action | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.snapshot = Snapshot()
        self.audio = AudioLoop(settings, self.synth, self.mixer, sink, self._stop,
                               on_failure=lambda _exc: self.request_stop())
        #: Which camera frames are embedded: the vision loop asks it, the controller
        #: makes it rest while muted or asleep.
        self.detector = make_detector(settings)
        self.controller = Controller(
            settings, corpora, self.audio, self.mixer, cues, self._stop, self._publish,
            state or State(), state_path, on_shutdown, self.detector,
        )
        self.vision = VisionLoop(
            settings, embedder, self.audio, self.mixer, cues,
            lambda: self.controller.current, self._stop, self._publish, self.detector,
        )

    # ------------------------------------------------------------- what it shows
    @property
    def corpora(self) -> list[Corpus]:
        return self.controller.corpora

    @property
    def state(self) -> State:
        """The user's state as last saved (corpus, volume, mute, timer)."""
        return self.controller.state

    @property
    def state_path(self) -> Path | None:
        return self.controller.state_path

    @property
    def current_corpus(self) -> Corpus | None:
        """The corpus now playing (None before :meth:`start`)."""
        current = self.controller.current
        return current.corpus if current is not None else None

    @property
    def corpus_index(self) -> int:
        """Index of the corpus now playing in :attr:`corpora`."""
        return self.controller.index

    @property
    def frames_seen(self) -> int:
        """Camera frames embedded and matched so far."""
        return self.vision.frames_seen

    @property
    def vision_counts(self) -> FrameCounts:
        """Camera frames the change detector has seen, and how many it had embedded."""
        return self.detector.counts

    @property
    def failure(self) -> BaseException | None:
        """What stopped the audio loop, if it failed (``soundscape run`` then exits non-zero)."""
        return self.audio.failure

    @property
    def blocks(self) -> int:
        return self.audio.blocks

    @property
    def max_render_ratio(self) -> float:
        """The longest block's render time over the block's duration (after warm-up)."""
        return self.audio.max_render_ratio

    @property
    def last_block_at(self) -> float:
        """monotonic time the last block was written (0 before the first)."""
        return self.audio.last_block_at

    @property
    def camera_ok(self) -> bool:
        return self.vision.camera_ok

    # ------------------------------------------------------------------ controls
    def handle(self, action: Action) -> None:
        """Apply one user action (called on the control thread)."""
        self.controller.handle(action)

    def select_corpus(self, index: int, announce: bool = True) -> bool:
        """Switch to corpus ``index`` (crossfaded), announce it, persist the choice; False
        (and said) when it cannot play, the previous one playing on."""
        return self.controller.select_corpus(index, announce)

    def set_sleep_timer(self, minutes: float) -> None:
        """Start (or with 0, cancel) the sleep timer: fade out over ``timer_fade_s`` after it."""
        self.controller.set_sleep_timer(minutes)

    def vision_step(self, frame: np.ndarray) -> np.ndarray | None:
        """Embed ``frame``, match it and publish the new p (see :class:`VisionLoop`)."""
        return self.vision.step(frame)

    def vision_consider(self, frame: np.ndarray, now_s: float) -> np.ndarray | None:
        """``frame`` seen at ``now_s`` (s): embedded only if the change detector says so."""
        return self.vision.consider(frame, now_s)

    # ----------------------------------------------------------------- lifecycle
    def start(self, announce_ready: bool = True) -> None:
        """Load the saved corpus, start the audio and vision threads."""
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
        self._warm_cues()
        controller = self.controller
        controller.start_corpus()
        controller.set_sleep_timer(controller.state.timer_min)
        if announce_ready:
            self.mixer.play(self.cues.phrase("ready"))
            controller.announce_corpus(controller.index)
        # Everything loaded so far lives as long as the process: freeze it out of the cyclic
        # garbage collector. A full collection otherwise walks it all while holding the
        # GIL (32 ms here, on the vision thread), longer than a Pi 4 can let the audio
        # thread wait before the card's 43 ms buffer runs dry.
        gc.collect()
        gc.freeze()
        self._threads = [threading.Thread(target=self.audio.run, name="audio", daemon=True)]
        if self.camera_opener is not None:
            opener = self.camera_opener
            self._threads.append(threading.Thread(
                target=self.vision.run, args=(opener,), name="vision", daemon=True
            ))
        for t in self._threads:
            t.start()

    def _warm_cues(self) -> None:
        """Render every cue now, before the audio thread starts. Decoding speech holds the
        GIL for milliseconds (15 ms the first time here, more on a Pi), which the audio
        thread would otherwise wait for on a button press or a lost camera."""
        for name in PHRASES:
            self.cues.phrase(name)
        for name, text in self.controller.phrases():
            self.cues.phrase(name, text=text)
        for index, corpus in enumerate(self.corpora):
            self.cues.corpus_name(index, corpus.spoken_name, corpus.announcement)

    def serve(self, tick_s: float = 0.1) -> None:
        """Process actions on the calling thread until :meth:`request_stop` (or QUIT)."""
        while not self._stop.is_set():
            try:
                action = self.actions.get(timeout=tick_s)
            except queue.Empty:
                action = None
            if action is not None:
                try:
                    self.handle(action)
                except Exception:  # a control bug must not stop the sound
                    log.exception("while handling %s", action)
            self.controller.tick()

    def request_stop(self) -> None:
        """Ask everything to stop (safe from a signal handler or any thread); returns at once.
        The audio loop fades out; :meth:`serve` returns."""
        self._stop.set()
        self.actions.put(None)  # wake serve()

    def stop(self, timeout_s: float = 0.9) -> None:
        """Fade out (STOP_FADE_S), close the devices and join the threads."""
        self.request_stop()
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def stop_event(self) -> threading.Event:
        """Set once a stop was requested (wait on it; set it with :meth:`request_stop`)."""
        return self._stop

    def healthy(self, now: float | None = None) -> bool:
        """True while audio blocks flow and the vision loop is alive (or deliberately blind)."""
        now = time.monotonic() if now is None else now
        audio_ok = now - self.audio.last_block_at < AUDIO_HEALTH_S
        vision_ok = (
            self.camera_opener is None or now - self.vision.last_alive_at < VISION_HEALTH_S
        )
        return audio_ok and vision_ok

    def _publish(self, **fresh) -> None:
        """Replace the snapshot: the parts' state now, plus ``fresh`` frame, p and top."""
        current, state, vision = self.controller.current, self.controller.state, self.vision
        counts = self.detector.counts
        self.snapshot = replace(
            self.snapshot,
            corpus_index=self.controller.index,
            corpus_name=current.corpus.name if current is not None else "",
            volume=state.volume,
            muted=state.muted,
            timer_min=state.timer_min,
            sleeping=self.controller.sleeping,
            camera=vision.camera_description,
            camera_ok=vision.camera_ok,
            vision_fps=vision.fps,
            inference_ms=vision.inference_ms,
            frames_seen=vision.frames_seen,
            frames_read=counts.seen,
            frames_embedded=counts.embedded,
            xruns=int(getattr(self.sink, "xruns", 0)),
            deadline_misses=int(getattr(self.sink, "deadline_misses", 0)),
            blocks=self.audio.blocks,
            max_block_render_ratio=self.audio.max_render_ratio,
            grains_dropped=int(self.synth.stats.grains_dropped),
            **fresh,
        )

    # ------------------------------------------------------------------- offline
    def render_offline(
        self,
        camera: SimulatedCamera,
        seconds: float,
        sink: AudioSink,
        on_vision: Callable[[float, np.ndarray], None] | None = None,
    ) -> None:
        """Render ``seconds`` of audio to ``sink`` (see :mod:`appliance.engine.offline`)."""
        render_offline(self, camera, seconds, sink, on_vision)
