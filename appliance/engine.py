"""The engine: two asynchronous loops around the synthesizer.

* The **audio loop** renders a block, mixes cues over it and writes it to the
  sink. It never waits on vision, a lock or I/O other than the sink: every
  change reaches it through a lock-free queue of commands it drains between
  blocks, each tagged with the corpus *generation* it was computed for, so a
  probability computed for the previous corpus is never applied to the next.
* The **vision loop** captures a frame, embeds it, matches it against the
  current corpus and publishes the new p. When the camera fails or stalls the
  sound goes on: p relaxes slowly towards the corpus' overall distribution,
  the camera is reopened with backoff and the user hears a distinct cue.
* **Controls** (buttons, keyboard, signals) post :class:`Action` values that a
  third thread (the caller's, in :meth:`Engine.serve`) turns into state
  changes, cues and atomic state-file writes.

The same object renders offline (:meth:`Engine.render_offline`): the vision
step runs synchronously on a simulated camera's ``frame_at(t)`` at the
configured rate, so a render is deterministic for a seed.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from appliance.audio.base import AudioSink
from appliance.camera.base import Camera, SimulatedCamera
from appliance.controls.actions import Action
from appliance.corpus import Corpus, Matcher
from appliance.cues import PHRASES, CueBank, CueMixer
from appliance.errors import AudioDeviceError, CameraError
from appliance.state import State, save_state
from appliance.synth import GrainParams, Granulator, Source

log = logging.getLogger(__name__)

#: Seconds without a frame before the camera counts as stalled.
CAMERA_STALL_S = 3.0
#: Time constant (s) of the relaxation towards the corpus' overall p while blind.
BLIND_RELAX_S = 20.0
#: Gain applied to the soundscape while a cue speaks (about -6 dB) so words stay clear.
DUCK_GAIN = 0.5
#: Length (s) of the fade-out on stop; SIGTERM must exit within 1 s.
STOP_FADE_S = 0.3
#: The interpreter's GIL switch interval (s) while the engine runs. The render kernel
#: releases the GIL, but getting it back waits until the holder (the vision loop's NumPy
#: and Python code) is asked to drop it: 5 ms by default, half an audio block. 1 ms bounds
#: that wait; threads that do not contend are not affected.
GIL_SWITCH_INTERVAL_S = 0.001


#: Said when the long-hold shutdown is refused (no polkit rule, not root).
SHUTDOWN_FAILED = "I could not shut down."


def timer_text(minutes: int) -> str:
    """What the sleep timer button says for a choice of ``minutes`` (0 = off)."""
    return f"Sleep timer {minutes} minutes." if minutes else "Sleep timer off."


def volume_to_gain(volume: float) -> float:
    """Map the user's volume (0–1) to linear gain: squared, roughly equal loudness steps."""
    return float(min(max(volume, 0.0), 1.0)) ** 2


@dataclass
class LoadedCorpus:
    """A corpus ready to play: its matcher and the synthesizer's view of its audio."""

    corpus: Corpus
    matcher: Matcher
    source: Source
    generation: int


@dataclass(frozen=True)
class Snapshot:
    """What the engine looks like now, replaced whole (readers never see a torn state)."""

    corpus_index: int = -1
    corpus_name: str = ""
    volume: float = 0.0
    muted: bool = False
    timer_min: int = 0
    sleeping: bool = False
    camera: str = ""
    camera_ok: bool = False
    frame: np.ndarray | None = None
    p: np.ndarray | None = None
    top: tuple[tuple[float, str, float], ...] = ()
    vision_fps: float = 0.0
    inference_ms: float = 0.0
    frames_seen: int = 0
    xruns: int = 0
    deadline_misses: int = 0
    blocks: int = 0
    max_block_render_ratio: float = 0.0
    grains_dropped: int = 0


@dataclass
class EngineSettings:
    """Engine parameters (seconds, frames, Hz); built from the config by ``soundscape run``."""

    sample_rate: int = 48000
    block_size: int = 512
    sample_format: str = "S16_LE"
    vision_fps: float = 4.0
    volume_step: float = 0.1
    timer_choices_min: Sequence[int] = (0, 15, 30, 60)
    timer_fade_s: float = 60.0
    seed: int = 0
    #: How far (0–1 of the stereo field) a sound is panned by where its match is in the
    #: camera frame: a keyframe seen at the frame's left edge plays at -pan_width.
    pan_width: float = 0.8
    params: GrainParams = field(default_factory=GrainParams)


class Engine:
    """Owns the synthesizer, the corpora, the sink and the camera; see the module doc."""

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
        self.corpora = list(corpora)
        self.embedder = embedder
        self.sink = sink
        self.cues = cues
        self.camera_opener = camera_opener
        self.state_path = state_path
        self.on_shutdown = on_shutdown
        self.state = state or State()
        self.synth = Granulator(
            settings.sample_rate, settings.block_size, settings.params, seed=settings.seed
        )
        self.mixer = CueMixer()
        self._audio_cmds: queue.SimpleQueue = queue.SimpleQueue()
        self.actions: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._generation = 0
        self._current: LoadedCorpus | None = None
        self._index = 0
        # Read by the audio thread, written by the control thread (plain floats: atomic).
        self._target_gain = volume_to_gain(self.state.volume)
        self._fade = 1.0  # sleep-timer / stop fade factor
        self._timer_deadline: float | None = None
        self._sleeping = False
        self.snapshot = Snapshot()
        #: What stopped the audio loop, if it failed (``soundscape run`` then exits non-zero).
        self.failure: BaseException | None = None
        # Audio health, written by the audio thread only.
        self.blocks = 0
        self.max_render_ratio = 0.0
        self.last_block_at = 0.0
        self.last_vision_at = 0.0
        self.camera_ok = False
        self._camera_desc = ""
        self._vision_times: list[float] = []
        self._inference_ms = 0.0
        self._frames_seen = 0
        self._last_p: np.ndarray | None = None
        self._block = np.zeros(settings.block_size * 2, self._sample_dtype())
        self._overlay = np.zeros((settings.block_size, 2), np.float32)

    # ----------------------------------------------------------------- setup
    def _sample_dtype(self) -> type:
        return np.int32 if self.settings.sample_format == "S32_LE" else np.int16

    def _load(self, index: int) -> LoadedCorpus:
        corpus = self.corpora[index]
        self._generation += 1
        # Plays the corpus' int16 memory map in place: a float32 copy of the world corpus
        # would be 300 MB, twice over during a crossfade, on a 2 GB Pi.
        source = Source.from_corpus(corpus)
        corpus.read_ahead()  # here, not in the audio thread (see Corpus.read_ahead)
        return LoadedCorpus(corpus, Matcher(corpus), source, self._generation)

    def select_corpus(self, index: int, announce: bool = True) -> None:
        """Switch to corpus ``index`` (crossfaded), announce it, persist the choice."""
        index %= len(self.corpora)
        corpus = self.corpora[index]
        if announce:  # first: loading may read the audio from the SD card
            self.mixer.play(self.cues.corpus_name(index, corpus.spoken_name, corpus.announcement))
        loaded = self._load(index)
        self._index, self._current = index, loaded
        p0 = loaded.matcher.uniform()
        self._last_p = p0
        self._audio_cmds.put(("source", loaded.generation, loaded.source, p0))
        log.info("corpus %d/%d: %s", index + 1, len(self.corpora), corpus.name)
        self._update_state(corpus=corpus.name, p=p0, top=())

    @property
    def current_corpus(self) -> Corpus | None:
        """The corpus now playing (None before :meth:`start`)."""
        return self._current.corpus if self._current is not None else None

    def _update_state(
        self, p: np.ndarray | None = None, top: tuple | None = None, **changes
    ) -> None:
        self.state = replace(self.state, **changes)
        fresh = {} if p is None else {"p": p, "top": top or ()}
        self._publish(**fresh)
        if self.state_path is not None:
            try:
                save_state(self.state_path, self.state)
            except OSError as exc:
                log.warning("could not save state to %s: %s", self.state_path, exc)

    def initial_index(self) -> int:
        names = [c.name for c in self.corpora]
        return names.index(self.state.corpus) if self.state.corpus in names else 0

    # ----------------------------------------------------------------- audio
    def _apply_audio_commands(self) -> None:
        while True:
            try:
                cmd = self._audio_cmds.get_nowait()
            except queue.Empty:
                return
            kind = cmd[0]
            if kind == "source":
                _, gen, source, p = cmd
                self._audio_generation = gen
                self.synth.set_source(source, p)
            elif kind == "p" and cmd[1] == getattr(self, "_audio_generation", -1):
                self.synth.set_probability(cmd[2], cmd[3])

    def _gain_now(self, cue_active: bool) -> float:
        if self.state.muted or self._sleeping:
            return 0.0
        gain = self._target_gain * self._fade
        return gain * DUCK_GAIN if cue_active else gain

    def render_block(self) -> np.ndarray:
        """Render one interleaved block (int16 or int32) with cues mixed over it."""
        t0 = time.perf_counter()
        self._apply_audio_commands()
        cue_active = self.mixer.mix(self._overlay)
        self.synth.set_volume(self._gain_now(cue_active))
        if self._block.dtype == np.int16:
            self.synth.render_int16(self._block, self._overlay)
        else:
            self.synth.render_int32(self._block, self._overlay)
        ratio = (time.perf_counter() - t0) * self.settings.sample_rate / self.settings.block_size
        if self.blocks > 8:  # the first blocks include one-off work (page faults, caches)
            self.max_render_ratio = max(self.max_render_ratio, ratio)
        self.blocks += 1
        return self._block

    def _audio_loop(self) -> None:
        try:
            self._play()
        except Exception as exc:  # a bug: fail fast rather than go quietly silent
            log.exception("the audio loop failed; stopping so the service restarts")
            self.failure = exc
            self._stop.set()
            self.actions.put(None)  # wake serve()

    def _play(self) -> None:
        _try_realtime_priority()
        backoff = 0.5
        opened = False
        while not self._stop.is_set() or self._fade > 0.0:
            if not opened:
                try:
                    self.sink.open()
                    opened, backoff = True, 0.5
                except AudioDeviceError as exc:
                    log.warning("%s; retrying in %.1f s", exc, backoff)
                    if self._stop.wait(backoff):
                        return
                    backoff = min(backoff * 2, 8.0)
                    continue
            if self._stop.is_set():  # fading out before exit
                self._fade = max(0.0, self._fade - self._fade_step())
            block = self.render_block()
            try:
                self.sink.write(block)
            except AudioDeviceError as exc:
                log.warning("sound output lost (%s); reopening", exc)
                self._close_sink()
                opened = False
                continue
            self.last_block_at = time.monotonic()
        self._close_sink()

    def _fade_step(self) -> float:
        return self.settings.block_size / (STOP_FADE_S * self.settings.sample_rate)

    def _close_sink(self) -> None:
        try:
            self.sink.close()
        except AudioDeviceError as exc:  # pragma: no cover - hardware only
            log.warning("closing the sound output: %s", exc)

    # ---------------------------------------------------------------- vision
    def vision_step(self, frame: np.ndarray) -> None:
        """Embed ``frame``, match it against the current corpus and publish the new p."""
        current = self._current
        if current is None:
            return
        t0 = time.perf_counter()
        matcher = current.matcher
        # The feature map places sounds left or right (and some corpora pool regions).
        spatial = self.settings.pan_width > 0.0 and self.embedder.has_feature_map
        x = (
            self.embedder.embed_full(frame)
            if matcher.needs_feature_map or spatial
            else self.embedder.embed(frame)
        )
        t1 = time.perf_counter()
        distances = matcher.distances(x)
        p = matcher.probabilities_from_distances(distances, matcher.known_confidence(x))
        pans = None
        if spatial:
            pans = matcher.positions(x.feature_map, p) * self.settings.pan_width
        self._audio_cmds.put(("p", current.generation, p, pans))
        self._last_p = p
        self._inference_ms = 1000 * (t1 - t0)
        self._frames_seen += 1
        now = time.monotonic()
        self.last_vision_at = now
        self._vision_times = [t for t in self._vision_times if now - t < 5.0] + [now]
        top_idx = np.argsort(-p)[:5]
        times = current.corpus.keyframe_times
        top = tuple(
            (float(times[i]), current.corpus.scenes[i], float(distances[i]),
             float(pans[i]) if pans is not None else 0.0)
            for i in top_idx
        )
        self._publish(frame=frame, p=p, top=top)

    def relax_blind(self, dt_s: float) -> None:
        """While the camera is lost, move p towards the corpus' overall distribution."""
        current = self._current
        if (
            current is None
            or self._last_p is None
            or len(self._last_p) != len(current.corpus.keyframe_times)
        ):
            return
        a = 1.0 - np.exp(-dt_s / BLIND_RELAX_S)
        p = (1 - a) * self._last_p + a * current.matcher.uniform()
        self._last_p = p / p.sum()
        self._audio_cmds.put(("p", current.generation, self._last_p, None))

    def _vision_loop(self) -> None:
        assert self.camera_opener is not None
        camera: Camera | None = None
        backoff, lost_announced, last_frame_at = 1.0, False, time.monotonic()
        period = 1.0 / self.settings.vision_fps
        while not self._stop.is_set():
            if camera is None:
                try:
                    camera = self.camera_opener()
                    camera.open()
                    self._camera_desc = camera.description
                    backoff, last_frame_at = 1.0, time.monotonic()
                    log.info("camera: %s", camera.description)
                except CameraError as exc:
                    camera = None
                    self._camera_lost(str(exc), lost_announced)
                    lost_announced = True
                    self._wait_blind(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
            t0 = time.monotonic()
            try:
                frame = camera.read(timeout_s=1.0)
            except Exception as exc:  # CameraError, or a camera library's own failure
                _close_quietly(camera)
                camera = None
                self._camera_lost(str(exc), lost_announced)
                lost_announced = True
                if not isinstance(exc, CameraError):  # unknown: do not spin on it
                    log.exception("the camera failed unexpectedly")
                    self._wait_blind(backoff)
                    backoff = min(backoff * 2, 30.0)
                continue
            if frame is None:
                if time.monotonic() - last_frame_at > CAMERA_STALL_S:
                    _close_quietly(camera)
                    camera = None
                    self._camera_lost(f"no frame for {CAMERA_STALL_S:.0f} s", lost_announced)
                    lost_announced = True
                continue
            last_frame_at = time.monotonic()
            if lost_announced or not self.camera_ok:
                if lost_announced:
                    self.mixer.play(self.cues.phrase("camera_back"))
                    log.info("camera back")
                lost_announced = False
                self.camera_ok = True
                self._publish()
            try:
                self.vision_step(frame)
            except Exception:  # a bug in matching must not stop the box listening
                log.exception("could not match a frame; the sound keeps its last picture")
                self._wait_blind(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            rest = period - (time.monotonic() - t0)
            if rest > 0:
                self._stop.wait(rest)
        if camera is not None:
            _close_quietly(camera)

    def _camera_lost(self, why: str, already: bool) -> None:
        self.camera_ok = False
        self.last_vision_at = time.monotonic()  # degraded on purpose, still alive
        if not already:
            log.warning("camera lost: %s", why)
            self.mixer.play(self.cues.phrase("camera_lost"), supersede=False)
            self._publish()

    def _wait_blind(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < end:
            self._stop.wait(0.5)
            self.relax_blind(0.5)
            self.last_vision_at = time.monotonic()

    # -------------------------------------------------------------- controls
    def handle(self, action: Action) -> None:
        """Apply one user action (called on the control thread)."""
        if self._sleeping and action not in (Action.QUIT, Action.SHUTDOWN):
            self._wake()
            return
        step = self.settings.volume_step
        if action is Action.NEXT_CORPUS:
            self.select_corpus(self._index + 1)
        elif action is Action.PREVIOUS_CORPUS:
            self.select_corpus(self._index - 1)
        elif action in (Action.VOLUME_UP, Action.VOLUME_DOWN):
            sign = 1 if action is Action.VOLUME_UP else -1
            volume = round(min(1.0, max(step, self.state.volume + sign * step)), 3)
            if volume == self.state.volume:
                self.mixer.play(self.cues.phrase("volume_max" if sign > 0 else "volume_min"))
            else:
                self.mixer.play(self.cues.phrase("volume", text=""))
            self._target_gain = volume_to_gain(volume)
            self._update_state(volume=volume, muted=False)
        elif action is Action.TOGGLE_MUTE:
            muted = not self.state.muted
            self.mixer.play(self.cues.phrase("muted" if muted else "unmuted"))
            self._update_state(muted=muted)
        elif action is Action.CYCLE_SLEEP_TIMER:
            choices = list(self.settings.timer_choices_min)
            now = self.state.timer_min
            nxt = choices[(choices.index(now) + 1) % len(choices)] if now in choices else choices[0]
            self._set_timer(nxt)
            self.mixer.play(self.cues.phrase("timer", text=timer_text(nxt)))
            self._update_state(timer_min=nxt)
        elif action is Action.SHUTDOWN:
            if self.on_shutdown is None:
                return
            self.mixer.play(self.cues.phrase("shutdown"))
            time.sleep(2.0)  # let the words be heard before the sound stops
            try:
                self.on_shutdown()
            except Exception as exc:  # the box stays on: say so rather than go quiet
                log.error("shutdown failed: %s", exc)
                self.mixer.play(
                    self.cues.phrase("problem", text=SHUTDOWN_FAILED), supersede=False
                )
                return
            self._stop.set()
        elif action is Action.QUIT:
            self._stop.set()

    def set_sleep_timer(self, minutes: float) -> None:
        """Start (or with 0, cancel) the sleep timer: fade out over ``timer_fade_s`` after it."""
        self._set_timer(minutes)

    def _set_timer(self, minutes: float) -> None:
        self._timer_deadline = time.monotonic() + 60 * minutes if minutes else None
        self._fade = 1.0

    def _wake(self) -> None:
        self._sleeping = False
        self._fade = 1.0
        self._set_timer(self.state.timer_min)
        self.mixer.play(self.cues.phrase("ready"))
        self._publish()

    def tick(self) -> None:
        """Periodic control work: the sleep timer's fade."""
        if self._timer_deadline is None or self._sleeping:
            return
        over = time.monotonic() - self._timer_deadline
        if over < 0:
            return
        if self._fade == 1.0:
            log.info("sleep timer: fading out over %.0f s", self.settings.timer_fade_s)
            self.mixer.play(self.cues.phrase("sleeping"))
        self._fade = max(0.0, 1.0 - over / self.settings.timer_fade_s)
        if self._fade == 0.0:
            self._sleeping = True
            self._publish()

    # ------------------------------------------------------------- lifecycle
    def start(self, announce_ready: bool = True) -> None:
        """Load the saved corpus, start the audio and vision threads."""
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL_S))
        self._warm_cues()
        self.select_corpus(self.initial_index(), announce=False)
        self._set_timer(self.state.timer_min)
        if announce_ready:
            self.mixer.play(self.cues.phrase("ready"))
            corpus = self._current.corpus
            self.mixer.play(
                self.cues.corpus_name(self._index, corpus.spoken_name, corpus.announcement)
            )
        # Everything loaded so far lives as long as the process: freeze it out of the cyclic
        # garbage collector. A full collection otherwise walks it all while holding the
        # GIL (32 ms here, on the vision thread), longer than a Pi 4 can let the audio
        # thread wait before the card's 43 ms buffer runs dry.
        gc.collect()
        gc.freeze()
        audio = threading.Thread(target=self._audio_loop, name="audio", daemon=True)
        self._threads = [audio]
        if self.camera_opener is not None:
            self._threads.append(
                threading.Thread(target=self._vision_loop, name="vision", daemon=True)
            )
        for t in self._threads:
            t.start()

    def _warm_cues(self) -> None:
        """Render every cue now, before the audio thread starts. Decoding speech holds the
        GIL for milliseconds (15 ms the first time here, more on a Pi), which the audio
        thread would otherwise wait for on a button press or a lost camera."""
        cues = self.cues
        for name in PHRASES:
            cues.phrase(name)
        cues.phrase("volume", text="")
        cues.phrase("problem", text=SHUTDOWN_FAILED)
        for minutes in self.settings.timer_choices_min:
            cues.phrase("timer", text=timer_text(minutes))
        for index, corpus in enumerate(self.corpora):
            cues.corpus_name(index, corpus.spoken_name, corpus.announcement)

    def serve(self, tick_s: float = 0.1) -> None:
        """Process actions on the calling thread until :meth:`stop` (or a QUIT action)."""
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
            self.tick()

    def stop(self, timeout_s: float = 0.9) -> None:
        """Fade out (STOP_FADE_S), close the devices and join the threads."""
        self._stop.set()
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def healthy(self, now: float | None = None) -> bool:
        """True while audio blocks flow and the vision loop is alive (or deliberately blind)."""
        now = time.monotonic() if now is None else now
        audio_ok = now - self.last_block_at < 2.0
        vision_ok = self.camera_opener is None or now - self.last_vision_at < 10.0
        return audio_ok and vision_ok

    def _publish(self, **fresh) -> None:
        old = self.snapshot
        now = time.monotonic()
        times = self._vision_times
        fps = (
            (len(times) - 1) / (times[-1] - times[0])
            if len(times) > 1 and now - times[0] > 0
            else 0
        )
        self.snapshot = replace(
            old,
            corpus_index=self._index,
            corpus_name=self._current.corpus.name if self._current else "",
            volume=self.state.volume,
            muted=self.state.muted,
            timer_min=self.state.timer_min,
            sleeping=self._sleeping,
            camera=self._camera_desc,
            camera_ok=self.camera_ok,
            vision_fps=fps,
            inference_ms=self._inference_ms,
            frames_seen=self._frames_seen,
            xruns=int(getattr(self.sink, "xruns", 0)),
            deadline_misses=int(getattr(self.sink, "deadline_misses", 0)),
            blocks=self.blocks,
            max_block_render_ratio=self.max_render_ratio,
            grains_dropped=int(self.synth.stats.grains_dropped),
            **fresh,
        )

    # --------------------------------------------------------------- offline
    def render_offline(
        self,
        camera: SimulatedCamera,
        seconds: float,
        sink: AudioSink,
        on_vision: Callable[[float, np.ndarray], None] | None = None,
    ) -> None:
        """Render ``seconds`` of audio to ``sink`` with vision at ``vision_fps`` on ``camera``.

        Deterministic: the vision step runs synchronously at simulated times
        ``k / vision_fps`` on ``camera.frame_at(t)``; ``on_vision(t, p)`` sees each p.
        """
        self.select_corpus(self.initial_index(), announce=False)
        self.synth.set_volume(self._gain_now(False))
        sr, bs = self.settings.sample_rate, self.settings.block_size
        period = 1.0 / self.settings.vision_fps
        next_vision = 0.0
        sink.open()
        try:
            for i in range(int(np.ceil(seconds * sr / bs))):
                t = i * bs / sr
                if t >= next_vision:
                    self.vision_step(camera.frame_at(t))
                    if on_vision is not None and self._last_p is not None:
                        on_vision(t, self._last_p)
                    next_vision += period
                sink.write(self.render_block())
        finally:
            sink.close()


def _close_quietly(camera: Camera) -> None:
    try:
        camera.close()
    except CameraError as exc:
        log.debug("closing camera: %s", exc)


_rt_warned = False


def _try_realtime_priority(priority: int = 20) -> None:
    """Ask for SCHED_FIFO for the calling thread only; EPERM is logged once and ignored."""
    global _rt_warned
    try:
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_FIFO, os.sched_param(priority))
        log.info("audio thread runs with SCHED_FIFO priority %d", priority)
    except (PermissionError, OSError, AttributeError) as exc:
        if not _rt_warned:
            log.info("audio thread keeps normal priority (SCHED_FIFO refused: %s)", exc)
            _rt_warned = True
