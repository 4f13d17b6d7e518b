"""The controller: user actions become state, cues, the sleep timer and the saved state.

Runs on the control thread (:meth:`~appliance.engine.Engine.serve`, the caller's).
A corpus switch is prepared here, loading included (the audio thread only swaps
what was prepared); volume, mute and the timer's fade reach the audio loop as
plain floats, the cues' level follows the volume (:func:`~appliance.cues.cue_gain`),
and while muted or asleep the vision loop rests (the change detector's ``resting``).

A corpus that fails when it is about to become current (it loaded, but the
synthesizer or the matcher refuses it) is never made current nor saved: the
previous one plays on, the wearer hears the problem cue, that the collection was
skipped and which one plays, and the buttons step over it from then on. A start
whose saved corpus is gone or broken starts on the next one that plays.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from appliance.controls.actions import Action
from appliance.corpus import Corpus, Matcher
from appliance.cues import CueBank, CueMixer, cue_gain
from appliance.engine.audio import AudioLoop
from appliance.engine.settings import EngineSettings
from appliance.engine.vision import LoadedCorpus
from appliance.errors import CorpusUnplayableError
from appliance.state import State, save_state
from appliance.synth import Source
from appliance.synth.volume import volume_to_gain
from appliance.vision.change import ChangeDetector

log = logging.getLogger(__name__)

#: Said when the long-hold shutdown is refused (no polkit rule, not root).
SHUTDOWN_FAILED = "I could not shut down."
#: Seconds the shutdown words get before the sound stops.
SHUTDOWN_WORDS_S = 2.0


#: Said (after the problem earcon) when a corpus cannot play. One sentence for all, right
#: after the corpus' own name: one cue rendered at start, not one per corpus (each is
#: about 2 MB of float32 audio).
SKIPPED = "This sound collection cannot play and was skipped."


def timer_text(minutes: int) -> str:
    """What the sleep timer button says for a choice of ``minutes`` (0 = off)."""
    return f"Sleep timer {minutes} minutes." if minutes else "Sleep timer off."


class Controller:
    """Corpus, volume, mute, sleep timer and shutdown; see the module docstring."""

    def __init__(
        self,
        settings: EngineSettings,
        corpora: Sequence[Corpus],
        audio: AudioLoop,
        mixer: CueMixer,
        cues: CueBank,
        stop: threading.Event,
        publish: Callable[..., None],
        state: State,
        state_path: Path | None = None,
        on_shutdown: Callable[[], None] | None = None,
        detector: ChangeDetector | None = None,
    ) -> None:
        self.settings = settings
        self.corpora = list(corpora)
        self.audio = audio
        self.mixer = mixer
        self.cues = cues
        self._stop = stop
        self._publish = publish
        self.state = state
        self.state_path = state_path
        self.on_shutdown = on_shutdown
        #: The corpus now playing (None before the first :meth:`select_corpus`).
        self.current: LoadedCorpus | None = None
        self.index = 0
        self.sleeping = False
        #: Indices of the corpora that failed to become current (skipped from then on).
        self.broken: set[int] = set()
        self._timer_deadline: float | None = None
        #: The vision loop's change detector: nothing is embedded while muted or asleep.
        self.detector = detector
        self._set_volume(state.volume)
        self._set_silent()

    def _set_volume(self, volume: float) -> None:
        """The soundscape's gain and the cues' level for ``volume`` (0–1)."""
        self.audio.gain = volume_to_gain(volume)
        self.mixer.level = cue_gain(volume)

    def _set_silent(self) -> None:
        """Silent (and the vision at rest) while muted or asleep."""
        silent = self.state.muted or self.sleeping
        self.audio.silent = silent
        if self.detector is not None:
            self.detector.resting = silent

    # ------------------------------------------------------------------- corpora
    def initial_index(self) -> int:
        """The saved corpus' index, or 0 when it is not among the corpora."""
        names = [c.name for c in self.corpora]
        return names.index(self.state.corpus) if self.state.corpus in names else 0

    def announce_corpus(self, index: int) -> None:
        corpus = self.corpora[index]
        self.mixer.play(self.cues.corpus_name(index, corpus.spoken_name, corpus.announcement))

    def select_corpus(self, index: int, announce: bool = True) -> bool:
        """Switch to corpus ``index`` (crossfaded), announce it, persist the choice.

        Returns False when it cannot play: then nothing changed but the words (see the
        module docstring)."""
        index %= len(self.corpora)
        corpus = self.corpora[index]
        if announce:  # first: loading may read the audio from the SD card
            self.announce_corpus(index)
        try:
            loaded = self._prepare(corpus)
        except Exception as exc:  # whatever the file held: the box plays on
            log.error("corpus %s cannot play (%s); %s", corpus.name, exc,
                      f"staying with {self.current.corpus.name}" if self.current else "skipped")
            self.broken.add(index)
            self.mixer.play(self.cues.phrase("problem", text=SKIPPED), supersede=False)
            if self.current is not None:  # and which one plays on
                self.announce_corpus(self.index)
            return False
        self.broken.discard(index)
        self.index, self.current = index, loaded
        log.info("corpus %d/%d: %s", index + 1, len(self.corpora), corpus.name)
        self._update_state(corpus=corpus.name, p=loaded.last_p, top=())
        return True

    def _prepare(self, corpus: Corpus) -> LoadedCorpus:
        """Everything a switch to ``corpus`` needs, handed to the audio loop last (so a
        failure before changes nothing)."""
        # Plays the corpus' int16 memory map in place: a float32 copy of the world corpus
        # would be 300 MB, twice over during a crossfade, on a 2 GB Pi.
        source = Source.from_corpus(corpus)
        corpus.read_ahead()  # here, not in the audio thread (see Corpus.read_ahead)
        matcher = Matcher(corpus)
        p0 = matcher.uniform()
        self.audio.prepare_corpus(source, p0)
        return LoadedCorpus(corpus, matcher, source, p0)

    def start_corpus(self) -> None:
        """Make the saved corpus current, or when it is gone or cannot play, the next
        one that plays. Raises CorpusUnplayableError when none can."""
        first = self.initial_index()
        for k in range(len(self.corpora)):
            if self.select_corpus((first + k) % len(self.corpora), announce=False):
                return
        raise CorpusUnplayableError(
            "none of the sound collections can play: "
            + ", ".join(c.name for c in self.corpora) + " (see the log above)",
            fix="soundscape doctor says what is wrong with each",
        )

    def step_corpus(self, direction: int) -> None:
        """The next (1) or previous (-1) corpus, stepping over the broken ones."""
        n = len(self.corpora)
        for k in range(1, n + 1):
            index = (self.index + direction * k) % n
            if index not in self.broken or k == n:
                self.select_corpus(index)
                return

    def _update_state(self, p=None, top: tuple | None = None, **changes) -> None:
        self.state = replace(self.state, **changes)
        self._publish(**({} if p is None else {"p": p, "top": top or ()}))
        if self.state_path is not None:
            try:
                save_state(self.state_path, self.state)
            except OSError as exc:
                log.warning("could not save state to %s: %s", self.state_path, exc)

    # ------------------------------------------------------------------- actions
    def handle(self, action: Action) -> None:
        """Apply one user action."""
        if self.sleeping and action not in (Action.QUIT, Action.SHUTDOWN):
            self._wake()
            return
        if action is Action.NEXT_CORPUS:
            self.step_corpus(1)
        elif action is Action.PREVIOUS_CORPUS:
            self.step_corpus(-1)
        elif action in (Action.VOLUME_UP, Action.VOLUME_DOWN):
            self._step_volume(1 if action is Action.VOLUME_UP else -1)
        elif action is Action.TOGGLE_MUTE:
            muted = not self.state.muted
            self.mixer.play(self.cues.phrase("muted" if muted else "unmuted"))
            self._update_state(muted=muted)
            self._set_silent()
        elif action is Action.CYCLE_SLEEP_TIMER:
            choices = list(self.settings.timer_choices_min)
            now = self.state.timer_min
            nxt = choices[(choices.index(now) + 1) % len(choices)] if now in choices else choices[0]
            self.set_sleep_timer(nxt)
            self.mixer.play(self.cues.phrase("timer", text=timer_text(nxt)))
            self._update_state(timer_min=nxt)
        elif action is Action.SHUTDOWN:
            self._shutdown()
        elif action is Action.QUIT:
            self._stop.set()

    def _step_volume(self, sign: int) -> None:
        step = self.settings.volume_step
        volume = round(min(1.0, max(step, self.state.volume + sign * step)), 3)
        if volume == self.state.volume:
            self.mixer.play(self.cues.phrase("volume_max" if sign > 0 else "volume_min"))
        else:
            self.mixer.play(self.cues.phrase("volume", text=""))
        self._set_volume(volume)
        self._update_state(volume=volume, muted=False)
        self._set_silent()

    def _shutdown(self) -> None:
        if self.on_shutdown is None:
            return
        self.mixer.play(self.cues.phrase("shutdown"))
        time.sleep(SHUTDOWN_WORDS_S)  # let the words be heard before the sound stops
        try:
            self.on_shutdown()
        except Exception as exc:  # the box stays on: say so rather than go quiet
            log.error("shutdown failed: %s", exc)
            self.mixer.play(self.cues.phrase("problem", text=SHUTDOWN_FAILED), supersede=False)
            return
        self._stop.set()

    # --------------------------------------------------------------- sleep timer
    def set_sleep_timer(self, minutes: float) -> None:
        """Start (or with 0, cancel) the sleep timer: fade out over ``timer_fade_s`` after it."""
        self._timer_deadline = time.monotonic() + 60 * minutes if minutes else None
        self.audio.fade = 1.0

    def _wake(self) -> None:
        self.sleeping = False
        self._set_silent()
        self.set_sleep_timer(self.state.timer_min)
        self.mixer.play(self.cues.phrase("ready"))
        self._publish()

    def tick(self) -> None:
        """Periodic control work: the sleep timer's fade."""
        if self._timer_deadline is None or self.sleeping:
            return
        over = time.monotonic() - self._timer_deadline
        if over < 0:
            return
        if self.audio.fade == 1.0:
            log.info("sleep timer: fading out over %.0f s", self.settings.timer_fade_s)
            self.mixer.play(self.cues.phrase("sleeping"))
        self.audio.fade = max(0.0, 1.0 - over / self.settings.timer_fade_s)
        if self.audio.fade == 0.0:
            self.sleeping = True
            self._set_silent()
            self._publish()

    def phrases(self) -> list[tuple[str, str | None]]:
        """Every (cue, text) this controller may play beyond the fixed phrases."""
        out: list[tuple[str, str | None]] = [("volume", ""), ("problem", SHUTDOWN_FAILED)]
        out += [("timer", timer_text(m)) for m in self.settings.timer_choices_min]
        out.append(("problem", SKIPPED))
        return out
