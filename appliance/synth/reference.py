"""A straightforward NumPy granulator: the benchmark's reference, not for the appliance.

Same model as :class:`~appliance.synth.Granulator` (inverse-CDF starts, Tukey window,
equal-power pan, overlap and loudness normalization, soft clip), written the obvious
way: a Python list of voices, one window array per grain, one NumPy slice operation per
voice per block. It allocates freely and has no p smoothing, crossfade, volume ramp or
limiter gain computer (a recursive gain does not vectorize); its output is statistically
equivalent, not sample-identical.
"""

from __future__ import annotations

import math

import numpy as np

from appliance.synth.balance import balance_gains
from appliance.synth.layout import PCM_SCALE
from appliance.synth.params import DEFAULT_PARAMS, GrainParams
from appliance.synth.source import Source


class NumpyGranulator:
    """Reference renderer: ``render(out)`` fills float32 ``(block_size, 2)``."""

    def __init__(
        self,
        sample_rate: int = 48000,
        block_size: int = 512,
        params: GrainParams = DEFAULT_PARAMS,
        seed: int = 0,
    ) -> None:
        params.validate()
        self.sample_rate = sample_rate
        self.block_size = block_size
        self.params = params
        self._rng = np.random.default_rng(seed)
        self._voices: list[list] = []  # [window, source slice start, age, delay, gl, gr]
        self._next_onset = 0.0
        self._audio: np.ndarray | None = None
        self._cdf = np.ones(1)
        self._starts = np.zeros(1, dtype=np.int64)
        self._gain = 1.0 / math.sqrt(params.expected_overlap())
        ceiling = 10.0 ** (params.limiter_ceiling_dbfs / 20.0)
        self._ceiling = ceiling
        self._knee = ceiling * 10.0 ** (-2.0 / 20.0)

    def set_source(self, source: Source, p: np.ndarray | None = None) -> None:
        """Use ``source`` with probability ``p`` over its keyframes (None → uniform)."""
        k = source.keyframes
        q = np.full(k, 1.0 / k) if p is None else np.asarray(p, dtype=np.float64) / np.sum(p)
        self._audio = source.pcm  # int16, read at PCM_SCALE like the Granulator's kernel
        self._cdf = np.cumsum(q)
        self._starts = np.round(source.keyframe_times * self.sample_rate).astype(np.int64)
        self._balance = balance_gains(source.keyframe_loudness_lufs, source.loudness_lufs,
                                      self.params.level_balance, k)
        self._loud = 10.0 ** ((self.params.target_lufs - source.loudness_lufs) / 20.0)
        self._voices.clear()

    def _window(self, length: int) -> np.ndarray:
        taper = min(round(self.params.attack_release * 0.5 * length), length // 2)
        w = np.ones(length, dtype=np.float32)
        if taper > 0:
            x = (np.arange(taper) + 0.5) / taper
            rise = (0.5 - 0.5 * np.cos(np.pi * x)).astype(np.float32)
            w[:taper] = rise
            w[length - taper :] = rise[::-1]
        return w

    def _spawn(self, delay: int) -> None:
        p, sr, audio = self.params, self.sample_rate, self._audio
        if len(self._voices) >= p.max_voices:
            return
        frames = audio.shape[0]
        length = min(round(self._rng.uniform(p.grain_min_s, p.grain_max_s) * sr), frames)
        k = int(np.searchsorted(self._cdf, self._rng.random() * self._cdf[-1], side="right"))
        k = min(k, len(self._starts) - 1)
        end = self._starts[k + 1] if k + 1 < len(self._starts) else frames
        start = int(self._starts[k] + self._rng.random() * (end - self._starts[k]))
        start = max(0, min(start, frames - length))
        pan = np.clip(p.pan_spread * self._rng.uniform(-1.0, 1.0), -1.0, 1.0)
        theta = (pan + 1.0) * math.pi / 4.0
        gain = self._gain * self._loud * PCM_SCALE * self._balance[k]
        if audio.shape[1] == 2:
            gain *= math.sqrt(2.0)
        self._voices.append(
            [self._window(length), start, 0, delay, gain * math.cos(theta), gain * math.sin(theta)]
        )

    def render(self, out: np.ndarray) -> None:
        """Render one block into ``out`` float32 ``(block_size, 2)``."""
        block = self.block_size
        out[:] = 0.0
        if self._audio is None:
            return
        interval = self.sample_rate / self.params.grains_per_s
        jitter = self.params.onset_jitter
        while self._next_onset < block:
            self._spawn(int(self._next_onset))
            self._next_onset += max(1.0, interval * (1.0 + jitter * self._rng.uniform(-1, 1)))
        self._next_onset -= block
        audio = self._audio
        stereo = audio.shape[1] == 2
        alive = []
        for voice in self._voices:
            window, start, age, delay, gl, gr = voice
            n = min(block - delay, len(window) - age)
            seg = audio[start + age : start + age + n] * window[age : age + n, None]
            out[delay : delay + n, 0] += seg[:, 0] * gl
            out[delay : delay + n, 1] += seg[:, 1 if stereo else 0] * gr
            voice[2] = age + n
            voice[3] = 0
            if voice[2] < len(window):
                alive.append(voice)
        self._voices = alive
        # Soft clip above the knee (no gain computer: it is recursive).
        a = np.abs(out)
        over = a > self._knee
        if over.any():
            width = self._ceiling - self._knee
            out[over] = np.sign(out[over]) * (
                self._knee + width * np.tanh((a[over] - self._knee) / width)
            )
