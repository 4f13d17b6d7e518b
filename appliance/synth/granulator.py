"""The Granulator: an endless stereo stream of grains drawn from p over a corpus' timeline.

Threads: ``render*`` runs in the audio thread. ``set_probability``, ``set_pan_center``,
``set_volume`` and ``set_source`` may be called from any other thread: they prepare
what they need there (allocation included) and publish it by swapping one reference or
storing one float; the audio thread picks it up at its next block and never waits.
Each setter is meant to be called from one thread at a time.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from appliance.synth import layout as L
from appliance.synth.balance import balance_gains
from appliance.synth.layout import OUT_F32, OUT_S16, OUT_S32
from appliance.synth.params import DEFAULT_PARAMS, GrainParams
from appliance.synth.source import Source

#: Fade used when ``set_source(..., crossfade=False)`` or ``crossfade_s`` is 0, seconds:
#: long enough to avoid a click, short enough to sound like a cut.
DECLICK_S = 0.010
#: Largest loudness make-up gain, dB: a near-silent corpus is not blown up into noise.
MAX_NORMALIZATION_GAIN_DB = 24.0


@dataclass(frozen=True)
class GranulatorStats:
    """Counters since the Granulator was made."""

    grains_started: int
    grains_dropped: int  # due while the layer's voice pool was full
    active_voices: int  # sounding after the last block, all layers
    blocks_rendered: int


@dataclass(frozen=True, eq=False)
class _Layer:
    """A prepared layer, built off the audio thread by ``set_source``."""

    source: Source
    kf: np.ndarray  # (KF_ROWS, K)
    loud_gain: float
    fade_step: float  # per sample


class Granulator:
    """Granular synthesizer; see the module docstring for threading rules.

    ``sample_rate`` in Hz (8000–192000), ``block_size`` in frames (64–2048), ``seed``
    makes the stream reproducible: same seed and same calls → identical output.
    """

    def __init__(
        self,
        sample_rate: int = 48000,
        block_size: int = 512,
        params: GrainParams = DEFAULT_PARAMS,
        seed: int = 0,
    ) -> None:
        if not isinstance(sample_rate, int) or not 8000 <= sample_rate <= 192000:
            raise ValueError(f"sample_rate must be in [8000, 192000] Hz, not {sample_rate!r}")
        if not isinstance(block_size, int) or not 64 <= block_size <= 2048:
            raise ValueError(f"block_size must be in [64, 2048] frames, not {block_size!r}")
        params.validate()
        from appliance.synth.engine import render_block  # lazy: compiles or loads the kernel

        self._kernel = render_block
        self.sample_rate = sample_rate
        self.block_size = block_size
        self.params = params
        self.seed = seed
        self._fstate = np.zeros(L.F_SIZE, dtype=np.float64)
        self._istate = np.zeros(L.I_SIZE, dtype=np.int64)
        self._voices = np.zeros((2, params.max_voices, L.V_FIELDS), dtype=np.float64)
        self._bus = np.zeros((4, block_size), dtype=np.float32)
        self._no_audio = np.zeros((1, 1), dtype=np.int16)
        self._no_kf = np.zeros((L.KF_ROWS, 1), dtype=np.float64)
        self._no_f32 = np.zeros((0, 2), dtype=np.float32)
        self._no_s16 = np.zeros(0, dtype=np.int16)
        self._no_s32 = np.zeros(0, dtype=np.int32)
        # The kernel's state arguments, in order: audio and kf of slots 0 and 1, then the rest.
        self._state = (self._no_audio, self._no_kf, self._no_audio, self._no_kf, self._voices,
                       self._fstate, self._istate, self._bus)
        self._layers: list[_Layer | None] = [None, None]
        # Publications: written by control threads, read by the audio thread.
        self._pending: _Layer | None = None
        self._applied: _Layer | None = None
        self._latest: _Layer | None = None
        self._p_pub: tuple[_Layer, np.ndarray, np.ndarray | None] | None = None
        self._p_seen: tuple[_Layer, np.ndarray, np.ndarray | None] | None = None
        self._set_parameters()

    def _set_parameters(self) -> None:
        from appliance.synth.limiter import ATTACK_S, RELEASE_S, THRESHOLD_BELOW_CEILING_DB
        from appliance.synth.rng import seed_state

        p, sr, f = self.params, self.sample_rate, self._fstate
        f[L.F_GRAIN_MIN] = p.grain_min_s * sr
        f[L.F_GRAIN_MAX] = p.grain_max_s * sr
        f[L.F_INTERVAL] = sr / p.grains_per_s
        f[L.F_JITTER] = p.onset_jitter
        f[L.F_TAPER] = p.attack_release
        f[L.F_PAN_SPREAD] = p.pan_spread
        f[L.F_PITCH_JITTER] = p.pitch_jitter_semitones
        f[L.F_OVERLAP_GAIN] = 1.0 / math.sqrt(p.expected_overlap())
        tau = p.p_smoothing_s * sr
        f[L.F_P_ALPHA] = 1.0 - math.exp(-self.block_size / tau) if tau > 0 else 1.0
        f[L.F_VOL_STEP] = 1.0 / (p.volume_ramp_s * sr)
        ceiling = 10.0 ** (p.limiter_ceiling_dbfs / 20.0)
        f[L.F_LIM_CEILING] = ceiling
        f[L.F_LIM_THRESHOLD] = ceiling * 10.0 ** (-THRESHOLD_BELOW_CEILING_DB / 20.0)
        f[L.F_LIM_ATTACK] = 1.0 - math.exp(-1.0 / (ATTACK_S * sr))
        f[L.F_LIM_RELEASE] = 1.0 - math.exp(-1.0 / (RELEASE_S * sr))
        f[L.F_VOL_TARGET] = f[L.F_VOL] = 1.0
        f[L.F_LIM_GAIN] = 1.0
        self._istate[L.I_RNG] = seed_state(self.seed)

    # --- control (any thread) -------------------------------------------------------------

    def set_source(
        self, source: Source, p: np.ndarray | None = None, crossfade: bool = True
    ) -> None:
        """Switch to ``source`` (p None → uniform), crossfading over ``crossfade_s`` from the
        current corpus (the first call fades in). ``crossfade=False`` cuts with a 10 ms
        de-click fade. Setting the current source again only sets p. A switch requested
        while a previous crossfade still runs starts when that one ends (latest wins).
        """
        if not isinstance(source, Source):
            raise TypeError(f"source must be a Source, not {type(source).__name__}")
        frames_per_s = self.sample_rate
        if source.keyframe_times[-1] * frames_per_s >= source.frames:
            raise ValueError(
                f"the last keyframe starts at {source.keyframe_times[-1]:.3f} s, at or after the "
                f"end of the audio ({source.frames / frames_per_s:.3f} s at {frames_per_s} Hz)"
            )
        latest = self._latest
        if latest is not None and latest.source is source:
            if p is not None:
                self.set_probability(p)
            return
        q = self._normalized(p, source.keyframes)
        kf = np.zeros((L.KF_ROWS, source.keyframes), dtype=np.float64)
        kf[L.KF_TARGET] = q
        kf[L.KF_SMOOTH] = q
        kf[L.KF_CDF] = np.cumsum(q)
        kf[L.KF_START] = np.round(source.keyframe_times * self.sample_rate)
        kf[L.KF_GAIN] = balance_gains(source.keyframe_loudness_lufs, source.loudness_lufs,
                                      self.params.level_balance, source.keyframes)
        gain_db = min(self.params.target_lufs - source.loudness_lufs, MAX_NORMALIZATION_GAIN_DB)
        fade_s = self.params.crossfade_s if crossfade else 0.0
        layer = _Layer(
            source=source,
            kf=kf,
            loud_gain=10.0 ** (gain_db / 20.0),
            fade_step=1.0 / (max(fade_s, DECLICK_S) * self.sample_rate),
        )
        self._latest = layer
        self._pending = layer  # published: the audio thread applies it

    def set_probability(
        self, p: np.ndarray, pan: np.ndarray | None = None, source: Source | None = None
    ) -> bool:
        """Publish a new p over the current source's keyframes ((K,), non-negative, any
        scale; normalized here) and, optionally, a pan centre per keyframe ((K,), -1 left
        .. 1 right, added to :meth:`set_pan_center`'s; None = 0). New grains follow both
        (smoothed by ``p_smoothing_s``); sounding grains finish untouched.

        ``source``: the source p was computed for; when another one has been set since,
        p is dropped (returns False) rather than applied to the wrong corpus."""
        layer = self._latest
        if layer is None:
            raise RuntimeError("set_source() must come before set_probability()")
        if source is not None and layer.source is not source:
            return False
        k = layer.source.keyframes
        pans = None
        if pan is not None:
            pans = np.array(pan, dtype=np.float64).reshape(-1)
            if pans.shape != (k,) or not np.all(np.abs(pans) <= 1.0):  # also rejects NaN
                raise ValueError(f"pan must have one value in [-1, 1] per keyframe ({k})")
        self._p_pub = (layer, self._normalized(p, k), pans)
        return True

    def set_pan_center(self, pan: float) -> None:
        """Pan centre for new grains, -1 (left) .. 1 (right); grains spread around it."""
        if not -1.0 <= pan <= 1.0:  # also rejects NaN
            raise ValueError(f"pan must be in [-1, 1], not {pan!r}")
        self._fstate[L.F_PAN_CENTER] = pan

    def set_volume(self, gain: float) -> None:
        """Master volume, linear 0..1, ramped over ``volume_ramp_s`` (full scale)."""
        if not 0.0 <= gain <= 1.0:
            raise ValueError(f"volume must be in [0, 1], not {gain!r}")
        self._fstate[L.F_VOL_TARGET] = gain

    @staticmethod
    def _normalized(p: np.ndarray | None, k: int) -> np.ndarray:
        if p is None:
            return np.full(k, 1.0 / k)
        q = np.array(p, dtype=np.float64).reshape(-1)
        if q.shape != (k,):
            raise ValueError(f"p must have one value per keyframe ({k}), not shape {np.shape(p)}")
        total = q.sum()
        if not np.all(q >= 0.0) or not math.isfinite(total) or total <= 0.0:
            raise ValueError("p must be finite, non-negative and not all zero")
        return q / total

    # --- audio thread ---------------------------------------------------------------------

    def render(self, out: np.ndarray, overlay: np.ndarray | None = None) -> None:
        """Render the next block into ``out`` float32 ``(block_size, 2)``. ``overlay``
        float32 ``(block_size, 2)`` (earcons, speech) is added after the master volume,
        before the limiter."""
        if self._pending is not self._applied or self._p_pub is not self._p_seen:
            self._sync()
        self._kernel(*self._state, self._no_f32 if overlay is None else overlay, out,
                     self._no_s16, self._no_s32, OUT_F32)

    def render_int16(self, out: np.ndarray, overlay: np.ndarray | None = None) -> None:
        """As :meth:`render`, into int16 ``(2 × block_size,)`` interleaved L/R (S16_LE)."""
        if self._pending is not self._applied or self._p_pub is not self._p_seen:
            self._sync()
        self._kernel(*self._state, self._no_f32 if overlay is None else overlay,
                     self._no_f32, out, self._no_s32, OUT_S16)

    def render_int32(self, out: np.ndarray, overlay: np.ndarray | None = None) -> None:
        """As :meth:`render`, into int32 ``(2 × block_size,)`` interleaved L/R (S32_LE)."""
        if self._pending is not self._applied or self._p_pub is not self._p_seen:
            self._sync()
        self._kernel(*self._state, self._no_f32 if overlay is None else overlay,
                     self._no_f32, self._no_s16, out, OUT_S32)

    def _sync(self) -> None:
        if self._pending is not self._applied:
            self._apply_source()
        if self._p_pub is not self._p_seen:
            self._apply_probability()

    def _slot_index(self, slot: int, field: int) -> int:
        return L.I_SLOT + slot * L.I_SLOT_STRIDE + field

    def _apply_source(self) -> None:
        """Audio thread, between blocks: put the pending layer in a slot. Only small
        in-place writes here; the layer was prepared by the caller of set_source."""
        layer = self._pending
        if layer is None:
            return
        ist, fst = self._istate, self._fstate
        cur = int(ist[L.I_CURRENT])
        other = 1 - cur
        if ist[self._slot_index(other, L.S_ACTIVE)]:
            return  # the previous crossfade is still running: apply when it has ended
        if ist[self._slot_index(cur, L.S_ACTIVE)]:
            fst[L.F_SLOT + cur * L.F_SLOT_STRIDE + L.S_FADE_DIR] = -1.0
            fst[L.F_SLOT + cur * L.F_SLOT_STRIDE + L.S_FADE_STEP] = layer.fade_step
            new = other
        else:
            new = cur
        self._voices[new].fill(0.0)
        state = list(self._state)
        state[2 * new : 2 * new + 2] = layer.source.pcm, layer.kf
        self._state = tuple(state)
        base = L.F_SLOT + new * L.F_SLOT_STRIDE
        fst[base + L.S_FADE_POS] = 0.0
        fst[base + L.S_FADE_DIR] = 1.0
        fst[base + L.S_FADE_STEP] = layer.fade_step
        fst[base + L.S_LOUD_GAIN] = layer.loud_gain
        fst[base + L.S_NEXT_ONSET] = 0.0
        ist[self._slot_index(new, L.S_DIRTY)] = 0
        ist[self._slot_index(new, L.S_LOG_COUNT)] = 0
        ist[self._slot_index(new, L.S_ACTIVE)] = 1
        ist[L.I_CURRENT] = new
        self._layers[new] = layer
        self._applied = layer

    def _apply_probability(self) -> None:
        pub = self._p_pub
        if pub is None:
            return
        layer, q, pans = pub
        cur = int(self._istate[L.I_CURRENT])
        if layer is self._layers[cur] and self._istate[self._slot_index(cur, L.S_ACTIVE)]:
            layer.kf[L.KF_TARGET] = q
            layer.kf[L.KF_PAN_TARGET] = 0.0 if pans is None else pans
            self._istate[self._slot_index(cur, L.S_DIRTY)] = 1
            self._p_seen = pub
        elif layer is not self._latest:
            self._p_seen = pub  # for a corpus that is no longer wanted: drop it
        # else: its corpus is still pending; apply once the switch has happened

    # --- inspection (off the audio thread) --------------------------------------------------

    @property
    def stats(self) -> GranulatorStats:
        ist = self._istate
        return GranulatorStats(
            grains_started=int(ist[L.I_STARTED]),
            grains_dropped=int(ist[L.I_DROPPED]),
            active_voices=int(ist[L.I_ACTIVE_VOICES]),
            blocks_rendered=int(ist[L.I_BLOCKS]),
        )

    @property
    def smoothed_p(self) -> np.ndarray:
        """Copy of the p the sampler currently uses for the current layer ((K,), sums to 1)."""
        layer = self._layers[int(self._istate[L.I_CURRENT])]
        if layer is None:
            return np.zeros(0)
        return layer.kf[L.KF_SMOOTH].copy()

    @property
    def crossfading(self) -> bool:
        """True while a previous corpus is still fading out or a requested switch waits."""
        other = 1 - int(self._istate[L.I_CURRENT])
        return bool(self._istate[self._slot_index(other, L.S_ACTIVE)]) or (
            self._pending is not self._applied
        )

    @property
    def source(self) -> Source | None:
        """The current (or, before the first block, the pending) source."""
        layer = self._layers[int(self._istate[L.I_CURRENT])] or self._latest
        return None if layer is None else layer.source

    def sounding_positions(self) -> np.ndarray:
        """Source positions (seconds) now being read by the current layer's voices."""
        cur = int(self._istate[L.I_CURRENT])
        v = self._voices[cur]
        on = v[:, L.V_ACTIVE] != 0.0
        return (v[on, L.V_POS] + v[on, L.V_AGE] * v[on, L.V_RATE]) / self.sample_rate

    def sounding_voices(self) -> tuple[np.ndarray, np.ndarray]:
        """The current layer's sounding voices: their source positions (seconds, as
        :meth:`sounding_positions`) and their gains (left + right: pan × overlap
        normalization), e.g. to weigh which scene the sound now comes from."""
        cur = int(self._istate[L.I_CURRENT])
        v = self._voices[cur]
        on = v[:, L.V_ACTIVE] != 0.0
        positions = (v[on, L.V_POS] + v[on, L.V_AGE] * v[on, L.V_RATE]) / self.sample_rate
        return positions, v[on, L.V_GL] + v[on, L.V_GR]

    def recent_grain_starts(self) -> np.ndarray:
        """Start positions (seconds, oldest first) of up to the last 4096 grains of the
        current layer (for a live view, and to check the sampler against p)."""
        cur = int(self._istate[L.I_CURRENT])
        count = int(self._istate[self._slot_index(cur, L.S_LOG_COUNT)])
        ring = self._istate[L.I_LOG + cur * L.LOG_SIZE : L.I_LOG + (cur + 1) * L.LOG_SIZE]
        n = min(count, L.LOG_SIZE)
        idx = (np.arange(count - n, count) % L.LOG_SIZE).astype(np.intp)
        return ring[idx] / self.sample_rate


def warm_up() -> float:
    """Compile or load every kernel and run each output path once on tiny inputs.

    Call before the first audible block; returns the seconds it took (cold compile
    the first time on a machine, a cache load after that).
    """
    t0 = time.perf_counter()
    from appliance.synth.loudness import measure_loudness

    sr = 8000
    t = np.arange(sr // 2) / sr
    audio = np.stack([np.sin(2 * np.pi * 440 * t), np.cos(2 * np.pi * 440 * t)], axis=1)
    stereo = Source.from_audio(audio, sr, keyframe_period_s=0.1)
    mono = Source.from_audio(audio[:, 0], sr, keyframe_period_s=0.1)
    measure_loudness(audio[:100], sr)
    g = Granulator(sr, 64, GrainParams(pitch_jitter_semitones=1.0, crossfade_s=0.01))
    g.set_source(stereo)
    out = np.zeros((64, 2), dtype=np.float32)
    overlay = np.full((64, 2), 0.95, dtype=np.float32)  # drives the limiter path
    for _ in range(4):
        g.render(out, overlay)
    g.set_probability(np.arange(stereo.keyframes, dtype=np.float64))  # the smoothing path
    g.render(out)
    g.set_source(mono)
    g.render_int16(np.zeros(128, dtype=np.int16))
    g.render_int32(np.zeros(128, dtype=np.int32))
    return time.perf_counter() - t0
