"""The vision loop: keep a camera open, embed the frames worth it, match them, publish p.

Vision that rests (:mod:`appliance.vision.change`): each frame first goes to the
:class:`~appliance.vision.change.ChangeDetector` (about 1 ms); only a first frame, a
change, a view still moving or the periodic refresh is embedded and matched, and its p
goes through the :class:`~appliance.vision.smoothing.PSmoother` (a change at once,
refreshes of a still view averaged). Muted or asleep, nothing is embedded (the
controller sets :attr:`ChangeDetector.resting`). A new corpus (seen here, at the first
frame after the switch) or a reopened camera makes the next frame an embedding.

One path for a lost camera (:meth:`VisionLoop._lose`: an open that fails, a read
that raises, a camera that stalls for CAMERA_STALL_S): the sound goes on, p
relaxes slowly (BLIND_RELAX_S) towards the corpus' overall distribution, the
wearer hears the "camera lost" cue once and "camera back" when frames return,
and reopening waits by one :class:`~appliance.backoff.Backoff`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from appliance.backoff import Backoff
from appliance.camera.base import Camera
from appliance.corpus import Corpus, Matcher
from appliance.cues import CueBank, CueMixer
from appliance.engine.audio import AudioLoop
from appliance.engine.settings import (
    BLIND_RELAX_S,
    CAMERA_RETRY_FIRST_S,
    CAMERA_RETRY_MAX_S,
    CAMERA_STALL_S,
    VISION_COUNTS_LOG_S,
    EngineSettings,
)
from appliance.engine.snapshot import VISION_RATE_WINDOW_S, frame_rate
from appliance.errors import CameraError
from appliance.synth import Source
from appliance.vision.change import ChangeDetector, Decision
from appliance.vision.smoothing import PSmoother

log = logging.getLogger(__name__)

#: Seconds between two steps of the relaxation while waiting for the camera.
BLIND_STEP_S = 0.5


@dataclass(eq=False)
class LoadedCorpus:
    """A corpus ready to play: its matcher, the synthesizer's view of its audio, and the
    last p published for it (the vision thread's, the start of a blind relaxation)."""

    corpus: Corpus
    matcher: Matcher
    source: Source
    last_p: np.ndarray


class VisionLoop:
    """Camera lifecycle, embedding and matching; publishes p through the audio loop."""

    def __init__(
        self,
        settings: EngineSettings,
        embedder,
        audio: AudioLoop,
        mixer: CueMixer,
        cues: CueBank,
        current: Callable[[], LoadedCorpus | None],
        stop: threading.Event,
        publish: Callable[..., None],
        detector: ChangeDetector | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.audio = audio
        self.mixer = mixer
        self.cues = cues
        self._current = current
        self._stop = stop
        self._publish = publish
        #: Whether frames arrive; a description of the camera in use.
        self.camera_ok = False
        self.camera_description = ""
        #: Frames embedded and matched (the detector's counts also have the frames seen);
        #: the last one's embedding time (ms).
        self.frames_seen = 0
        self.inference_ms = 0.0
        #: monotonic time of the last sign of life (a frame, or a deliberate blind wait).
        self.last_alive_at = 0.0
        self._times: list[float] = []
        self._lost_announced = False
        #: Which frames are embedded (shared with the controller, which sets ``resting``).
        self.detector = detector if detector is not None else make_detector(settings)
        self.smoother = PSmoother(settings.still_smoothing_s)
        self._smoothed_for: LoadedCorpus | None = None  # the corpus the smoother's p is for

    @property
    def fps(self) -> float:
        """Frames embedded and matched per second over the last few seconds."""
        return frame_rate(self._times, time.monotonic())

    # ------------------------------------------------------------------- one frame
    def consider(self, frame: np.ndarray, now_s: float) -> np.ndarray | None:
        """One camera frame seen at ``now_s`` (monotonic seconds; simulated offline): embed
        and match it if the detector says so (:meth:`step`), else keep p. Returns the p
        in force (None before a corpus is loaded)."""
        current = self._current()
        if current is None:
            return None
        self._follow(current)
        decision = self.detector.decide(frame, now_s)
        if decision.embed:
            return self.step(frame, decision, now_s)
        self.last_alive_at = time.monotonic()
        self._publish()  # the counts (the frame and p shown stay the last embedded ones)
        return current.last_p

    def _follow(self, current: LoadedCorpus) -> None:
        """On a corpus switch, its own p from its own first frame: the detector embeds the
        next frame and the smoother starts afresh."""
        if current is not self._smoothed_for:
            self.detector.invalidate()
            self.smoother.reset()
            self._smoothed_for = current

    def step(
        self, frame: np.ndarray, decision: Decision = Decision.CHANGE, now_s: float | None = None
    ) -> np.ndarray | None:
        """Embed ``frame``, match it against the current corpus and publish the new p
        (returned; None before a corpus is loaded), smoothed for ``decision`` (taken as
        it is for anything but a refresh; see :class:`PSmoother`) at ``now_s``."""
        current = self._current()
        if current is None:
            return None
        now_s = time.monotonic() if now_s is None else now_s
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
        self._follow(current)
        p = self.smoother.update(matcher.probabilities_from_distances(
            distances, matcher.known_confidence(x, distances)), decision, now_s)
        pans = None
        if spatial:
            pans = matcher.positions(x.feature_map, p) * self.settings.pan_width
        self.audio.prepare_p(current.source, p, pans)
        current.last_p = p
        self.inference_ms = 1000 * (t1 - t0)
        self.frames_seen += 1
        now = time.monotonic()
        self.last_alive_at = now
        self._times = [t for t in self._times if now - t < VISION_RATE_WINDOW_S] + [now]
        n = min(5, len(p))
        top_idx = np.argpartition(-p, n - 1)[:n]  # O(K), not a sort of a long corpus
        top_idx = top_idx[np.argsort(-p[top_idx])]
        times = current.corpus.keyframe_times
        top = tuple(
            (float(times[i]), current.corpus.scenes[i], float(distances[i]),
             float(pans[i]) if pans is not None else 0.0)
            for i in top_idx
        )
        self._publish(frame=frame, p=p, top=top)
        return p

    def relax_blind(self, dt_s: float) -> None:
        """While the camera is lost, move p towards the corpus' overall distribution."""
        current = self._current()
        if current is None or len(current.last_p) != len(current.corpus.keyframe_times):
            return
        a = 1.0 - np.exp(-dt_s / BLIND_RELAX_S)
        p = (1 - a) * current.last_p + a * current.matcher.uniform()
        current.last_p = p / p.sum()
        self.audio.prepare_p(current.source, current.last_p)

    # --------------------------------------------------------------------- the loop
    def run(self, open_camera: Callable[[], Camera]) -> None:
        """The vision thread: until the engine stops, read, match, publish at vision_fps."""
        camera: Camera | None = None
        backoff = Backoff(CAMERA_RETRY_FIRST_S, CAMERA_RETRY_MAX_S)
        last_frame_at = time.monotonic()
        period = 1.0 / self.settings.vision_fps
        logged_at, logged = time.monotonic(), self.detector.counts
        while not self._stop.is_set():
            if camera is None:
                try:
                    camera = open_camera()
                    camera.open()
                except CameraError as exc:
                    camera = self._lose(None, str(exc), backoff)
                    continue
                self.camera_description = camera.description
                self.detector.invalidate()  # it may look elsewhere now
                backoff.reset()
                last_frame_at = time.monotonic()
                log.info("camera: %s", camera.description)
            t0 = time.monotonic()
            try:
                frame = camera.read(timeout_s=1.0)
            except CameraError as exc:
                camera = self._lose(camera, str(exc))
                continue
            except Exception as exc:  # a camera library's own failure: do not spin on it
                log.exception("the camera failed unexpectedly")
                camera = self._lose(camera, str(exc), backoff)
                continue
            if frame is None:
                if time.monotonic() - last_frame_at > CAMERA_STALL_S:
                    camera = self._lose(camera, f"no frame for {CAMERA_STALL_S:.0f} s")
                continue
            last_frame_at = time.monotonic()
            self._found()
            try:
                self.consider(frame, last_frame_at)
            except Exception:  # a bug in matching must not stop the box listening
                log.exception("could not match a frame; the sound keeps its last picture")
                self.detector.invalidate()  # embed the next frame, whatever it looks like
                self._wait_blind(backoff.next())
                continue
            backoff.reset()
            if last_frame_at - logged_at >= VISION_COUNTS_LOG_S:
                counts = self.detector.counts
                log.info("vision: %s in the last %.0f s; %s since the start",
                         counts.since(logged).describe(), last_frame_at - logged_at,
                         counts.describe())
                logged_at, logged = last_frame_at, counts
            rest = period - (time.monotonic() - t0)
            if rest > 0:
                self._stop.wait(rest)
        if camera is not None:
            _close_quietly(camera)

    def _lose(self, camera: Camera | None, why: str, backoff: Backoff | None = None) -> None:
        """The one "camera lost" path: close it, say so once, wait blind if asked.
        Returns None (the caller's camera is gone)."""
        if camera is not None:
            _close_quietly(camera)
        self.camera_ok = False
        self.last_alive_at = time.monotonic()  # degraded on purpose, still alive
        if not self._lost_announced:
            self._lost_announced = True
            log.warning("camera lost: %s", why)
            self.mixer.play(self.cues.phrase("camera_lost"), supersede=False)
            self._publish()
        if backoff is not None:
            self._wait_blind(backoff.next())
        return None

    def _found(self) -> None:
        """A frame arrived: say "camera back" after a loss, publish the first time."""
        if self.camera_ok and not self._lost_announced:
            return
        if self._lost_announced:
            self.mixer.play(self.cues.phrase("camera_back"))
            log.info("camera back")
        self._lost_announced = False
        self.camera_ok = True
        self._publish()

    def _wait_blind(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < end:
            self._stop.wait(BLIND_STEP_S)
            self.relax_blind(BLIND_STEP_S)
            self.last_alive_at = time.monotonic()


def make_detector(settings: EngineSettings) -> ChangeDetector:
    """The change detector ``settings`` ask for (``[vision]``)."""
    return ChangeDetector(settings.change_threshold, settings.settle_threshold, settings.refresh_s)


def _close_quietly(camera: Camera) -> None:
    try:
        camera.close()
    except CameraError as exc:
        log.debug("closing camera: %s", exc)
