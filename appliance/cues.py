"""Audible feedback: earcons and spoken phrases, mixed over the soundscape.

Every state change is heard: a short earcon (a tone pattern distinct per
event, so it is recognisable without words) followed by a spoken phrase when
espeak-ng is installed. Cues are rendered once, off the audio thread, to
float32 stereo at the output rate; :class:`CueMixer` plays them one after the
other into the overlay buffer the synthesizer adds after master volume, so a
muted or quiet soundscape still answers every button press.

Level: every part of a cue (earcon, speech) is rendered at the same loudness,
:data:`CUE_LUFS` (a little over the soundscape at full volume), its peaks at most
:data:`CUE_PEAK_DBFS`; :attr:`CueMixer.level` then scales cues with the volume
(:func:`cue_gain`), so at every volume a cue plays :data:`CUE_OVER_SOUNDSCAPE_LU`
over the soundscape (and more while the soundscape ducks under words): heard over it,
neither drowned at full volume nor shouting at a low one. Muted, cues keep the level
of the volume setting.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.errors import MediaError
from appliance.media import decode_audio
from appliance.synth.volume import FULL_VOLUME_LUFS, volume_lufs

log = logging.getLogger(__name__)

#: How much louder than the soundscape a cue plays at every volume, LU (the
#: soundscape also ducks by 6 dB while words play).
CUE_OVER_SOUNDSCAPE_LU = 3.0
#: Loudness of every rendered cue part at mixer level 1, LUFS (integrated, BS.1770):
#: the soundscape's full-volume loudness plus CUE_OVER_SOUNDSCAPE_LU.
CUE_LUFS = FULL_VOLUME_LUFS + CUE_OVER_SOUNDSCAPE_LU
#: Peak ceiling of a rendered cue part, dBFS (the limiter's ceiling): speech, whose peaks
#: stand about 14 dB over its loudness, plays a little under CUE_LUFS at full volume.
CUE_PEAK_DBFS = -1.0
#: A cue is never quieter than this, LUFS: at the lowest volume it is still heard.
CUE_FLOOR_LUFS = -45.0


def cue_gain(volume: float) -> float:
    """The :attr:`CueMixer.level` for the user's ``volume`` (0–1): cues at
    :data:`CUE_OVER_SOUNDSCAPE_LU` over the soundscape's loudness there, never under
    :data:`CUE_FLOOR_LUFS`, never over their rendered level (1)."""
    wanted = max(volume_lufs(volume) + CUE_OVER_SOUNDSCAPE_LU, CUE_FLOOR_LUFS)
    return min(1.0, 10.0 ** ((wanted - CUE_LUFS) / 20.0))

# Earcons: (frequency Hz, duration s) notes. Rising = good news, falling = bad
# news, single notes for limits; each event has its own contour.
EARCONS: dict[str, list[tuple[float, float]]] = {
    "ready": [(523.25, 0.12), (659.25, 0.12), (783.99, 0.2)],
    "camera_lost": [(659.25, 0.15), (440.0, 0.15), (329.63, 0.3)],
    "camera_back": [(440.0, 0.12), (659.25, 0.2)],
    "volume_max": [(1318.5, 0.08), (1318.5, 0.08)],
    "volume_min": [(261.63, 0.08), (261.63, 0.08)],
    "volume": [(880.0, 0.05)],
    "muted": [(392.0, 0.12), (261.63, 0.2)],
    "unmuted": [(261.63, 0.12), (392.0, 0.2)],
    "timer": [(587.33, 0.1), (587.33, 0.1), (587.33, 0.1)],
    "sleeping": [(523.25, 0.3), (392.0, 0.3), (261.63, 0.5)],
    "problem": [(311.13, 0.2), (311.13, 0.2), (233.08, 0.4)],
    "shutdown": [(392.0, 0.2), (293.66, 0.2), (196.0, 0.5)],
}

PHRASES: dict[str, str] = {
    "ready": "Ready.",
    "camera_lost": "Camera lost. The sound goes on while I reconnect.",
    "camera_back": "Camera back.",
    "volume_max": "Maximum volume.",
    "volume_min": "Minimum volume.",
    "muted": "Muted. Hold volume down again for sound.",
    "unmuted": "Sound on.",
    "sleeping": "Sleep timer: fading out. Press any button to wake me.",
    "shutdown": "Shutting down.",
}


def tone_sequence(notes: list[tuple[float, float]], sample_rate: int) -> np.ndarray:
    """Render notes as sines with raised-cosine edges (no clicks); float32 (frames, 2)."""
    parts = []
    edge = int(0.01 * sample_rate)  # 10 ms fades: long enough to be click-free
    gap = np.zeros(int(0.03 * sample_rate), np.float32)
    for freq, dur in notes:
        n = int(dur * sample_rate)
        t = np.arange(n) / sample_rate
        s = np.sin(2 * np.pi * freq * t) * 0.8 + 0.2 * np.sin(4 * np.pi * freq * t)
        env = np.ones(n)
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, edge))
        env[:edge], env[-edge:] = ramp, ramp[::-1]
        parts += [(s * env).astype(np.float32), gap]
    mono = np.concatenate(parts)
    return _to_stereo_at_level(mono, sample_rate)


def corpus_earcon(index: int, sample_rate: int) -> np.ndarray:
    """A distinct arpeggio per corpus position (used when no spoken name exists)."""
    base = [261.63, 293.66, 329.63, 392.0, 440.0, 523.25, 587.33]
    notes = [(base[(index + k * 2) % len(base)] * (1 + k // 4), 0.1) for k in range(index % 4 + 2)]
    return tone_sequence(notes, sample_rate)


def _to_stereo_at_level(mono: np.ndarray, sample_rate: int) -> np.ndarray:
    """``mono`` as stereo float32 at :data:`CUE_LUFS`, its peak at most CUE_PEAK_DBFS."""
    from appliance.synth.loudness import LOUDNESS_FLOOR_LUFS, measure_loudness

    stereo = np.ascontiguousarray(np.repeat(mono[:, None], 2, axis=1), dtype=np.float32)
    peak = float(np.max(np.abs(stereo))) if stereo.size else 0.0
    if peak == 0.0:
        return stereo
    loudness = measure_loudness(stereo, sample_rate)
    gain_db = CUE_LUFS - loudness if loudness > LOUDNESS_FLOOR_LUFS else 0.0
    gain = min(10.0 ** (gain_db / 20.0), 10.0 ** (CUE_PEAK_DBFS / 20.0) / peak)
    return np.ascontiguousarray(stereo * np.float32(gain))


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak_to_wav(text: str, path: Path, voice: str = "en", speed_wpm: int = 160) -> None:
    """Render ``text`` to a WAV file with espeak-ng (raises MediaError if it fails)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise MediaError("espeak-ng is not installed (apt install espeak-ng)")
    proc = subprocess.run(
        [exe, "-v", voice, "-s", str(speed_wpm), "-w", str(path), text],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if proc.returncode != 0 or not path.is_file():
        raise MediaError(f"espeak-ng failed for {text!r}: {proc.stderr.strip()}")


def load_speech(path: Path, sample_rate: int) -> np.ndarray:
    """Load a spoken WAV as a cue: stereo float32 at ``sample_rate``, at CUE_LUFS (peaks
    at most CUE_PEAK_DBFS)."""
    return _to_stereo_at_level(decode_audio(path, sample_rate, channels=1)[:, 0], sample_rate)


class CueBank:
    """Pre-rendered cues for one output rate (earcon, then speech when available)."""

    def __init__(self, sample_rate: int, cache_dir: Path | None = None, speak: bool = True) -> None:
        self.sample_rate = sample_rate
        self.cache_dir = cache_dir
        self.speak = speak and espeak_available()
        self._cues: dict[str, np.ndarray] = {}

    def _speech(self, text: str) -> np.ndarray | None:
        if not self.speak:
            return None
        key = hashlib.sha256(text.encode()).hexdigest()[:16]
        cache = self.cache_dir / f"{key}.wav" if self.cache_dir else None
        try:
            if cache is not None and cache.is_file():
                return load_speech(cache, self.sample_rate)
            with tempfile.TemporaryDirectory() as tmp:
                wav = Path(tmp) / "speech.wav"
                speak_to_wav(text, wav)
                if cache is not None:
                    cache.parent.mkdir(parents=True, exist_ok=True)
                    part = cache.with_suffix(".part")
                    shutil.copyfile(wav, part)
                    os.replace(part, cache)
                return load_speech(wav, self.sample_rate)
        except (MediaError, OSError, subprocess.TimeoutExpired) as exc:
            log.warning("could not render speech %r: %s", text, exc)
            return None

    def phrase(self, name: str, text: str | None = None, earcon: str | None = None) -> np.ndarray:
        """The cue for event ``name``: its earcon, then ``text`` (default PHRASES[name]) spoken."""
        text = text if text is not None else PHRASES.get(name)
        key = f"{name}\0{text}"
        if key not in self._cues:
            parts = [tone_sequence(EARCONS[earcon or name], self.sample_rate)]
            speech = self._speech(text) if text else None
            if speech is not None:
                parts += [np.zeros((int(0.05 * self.sample_rate), 2), np.float32), speech]
            self._cues[key] = np.ascontiguousarray(np.concatenate(parts))
        return self._cues[key]

    def corpus_name(self, index: int, spoken_name: str, announcement: Path | None) -> np.ndarray:
        """The cue announcing a corpus: its pre-rendered name, or speech, or its own earcon."""
        key = f"corpus\0{index}\0{spoken_name}\0{announcement}"
        if key not in self._cues:
            cue = None
            if announcement is not None and announcement.is_file():
                try:
                    cue = load_speech(announcement, self.sample_rate)
                except MediaError as exc:
                    log.warning("announcement %s unreadable: %s", announcement, exc)
            if cue is None:
                cue = self._speech(spoken_name)
            parts = [corpus_earcon(index, self.sample_rate)]
            if cue is not None:
                parts += [np.zeros((int(0.05 * self.sample_rate), 2), np.float32), cue]
            self._cues[key] = np.ascontiguousarray(np.concatenate(parts))
        return self._cues[key]


@dataclass
class _Pending:
    cue: np.ndarray
    gain: float
    supersede: bool
    dropped: bool = False


class CueMixer:
    """Plays queued cues one after the other into an overlay buffer.

    ``play`` may be called from any thread (deque appends are atomic);
    ``mix`` runs on the audio thread and only slices preallocated arrays.
    """

    def __init__(self, level: float = 1.0) -> None:
        #: Gain on every cue (linear, 0–1), set from the volume with :func:`cue_gain`;
        #: read by the audio thread at each block (one float: no lock).
        self.level = level
        self._queue: deque[_Pending] = deque()
        self._current: np.ndarray | None = None
        self._gain = 1.0
        self._pos = 0

    def play(self, cue: np.ndarray, gain: float = 1.0, supersede: bool = True) -> None:
        """Queue ``cue``. A ``supersede`` cue (feedback on a button press) drops the
        supersedable cues still waiting: after five quick presses the wearer hears
        the state they arrived at, not five stale answers. Warnings pass
        ``supersede=False`` and are never dropped."""
        if supersede:
            for item in list(self._queue):
                if item.supersede:
                    item.dropped = True  # mix() skips it; no lock shared with the audio thread
        self._queue.append(_Pending(cue, gain, supersede))

    def clear(self) -> None:
        for item in list(self._queue):
            item.dropped = True

    @property
    def active(self) -> bool:
        return self._current is not None or bool(self._queue)

    def mix(self, overlay: np.ndarray) -> bool:
        """Write the next ``len(overlay)`` frames of cue audio into ``overlay``; True if any."""
        overlay.fill(0.0)
        written = 0
        frames = overlay.shape[0]
        while written < frames:
            if self._current is None:
                if not self._queue:
                    break
                item = self._queue.popleft()
                if item.dropped:
                    continue
                self._current, self._gain = item.cue, item.gain
                self._pos = 0
            n = min(frames - written, self._current.shape[0] - self._pos)
            overlay[written : written + n] = self._current[self._pos : self._pos + n]
            gain = self._gain * self.level
            if gain != 1.0:
                overlay[written : written + n] *= gain
            written += n
            self._pos += n
            if self._pos >= self._current.shape[0]:
                self._current = None
        return written > 0
