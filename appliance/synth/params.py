"""Granular synthesis parameters, with the paper's defaults and their allowed ranges."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class GrainParams:
    """Everything that shapes the granular stream. Frozen: a Granulator copies it once.

    Times are in seconds, levels in dB (LUFS for loudness, dBFS for peaks),
    fractions in 0..1. :meth:`validate` lists each field's allowed range.
    """

    #: Shortest grain, seconds (default 0.050). Durations are uniform in [min, max].
    grain_min_s: float = 0.050
    #: Longest grain, seconds (default 0.100).
    grain_max_s: float = 0.100
    #: Mean grain onsets per second (default 100: with 50–100 ms grains, 5–10 overlap).
    grains_per_s: float = 100.0
    #: Onset jitter as a fraction of the mean inter-onset interval (default 0.5): each
    #: interval is uniform in mean × [1 − jitter, 1 + jitter], so onsets never phase-lock.
    onset_jitter: float = 0.5
    #: Tukey taper fraction of the grain window (default 0.5): half of it is the raised-cosine
    #: attack, half the release, the rest is flat. 1.0 = Hann; 0.0 = rectangle (clicks).
    attack_release: float = 0.5
    #: Random pan width around the pan centre (default 0.6): 0 = every grain at the
    #: centre, 1 = uniform over the full stereo width around it (clamped at the sides).
    pan_spread: float = 0.6
    #: Maximum random transposition per grain, semitones (default 0 = off). When on,
    #: grains read the source with linear interpolation.
    pitch_jitter_semitones: float = 0.0
    #: Time constant of the one-pole smoothing of p, seconds (default 0.5; 0 = none), so
    #: a flickering camera estimate does not make the sound flicker.
    p_smoothing_s: float = 0.5
    #: Equal-power crossfade between corpora, seconds (default 1.5); also the fade-in of
    #: the first corpus. 0 still fades over a 10 ms de-click ramp.
    crossfade_s: float = 1.5
    #: Master volume slew, seconds for a full-scale (0 → 1) change (default 0.05).
    volume_ramp_s: float = 0.05
    #: Playback loudness target, LUFS (EBU R128 / ITU-R BS.1770-4 integrated loudness,
    #: default −23): each corpus is gained by target − its measured loudness.
    target_lufs: float = -23.0
    #: Level balance between the parts of one corpus, 0..1 (default 0.5): the fraction of
    #: each keyframe's loudness difference from the corpus figure that is evened out, so
    #: a waterfall stays louder than birdsong but by half as many dB when the camera
    #: turns from one to the other. 0 = the recordings' own levels. Needs the corpus'
    #: per-keyframe loudness (``Source.keyframe_loudness_lufs``); without it, no effect.
    level_balance: float = 0.5
    #: Output peak ceiling of the soft limiter, dBFS (default −1): no sample exceeds it.
    limiter_ceiling_dbfs: float = -1.0
    #: Voices per layer (default 64); a grain due when all are busy is dropped and counted.
    max_voices: int = 64

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first field outside its allowed range."""
        for f in fields(self):
            value = getattr(self, f.name)
            lo, hi = _RANGES[f.name]
            if f.name == "max_voices":
                ok = isinstance(value, int) and not isinstance(value, bool)
            else:
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                ok = ok and math.isfinite(value)
            if not ok or not lo <= value <= hi:
                raise ValueError(f"GrainParams.{f.name} must be in [{lo}, {hi}], not {value!r}")
        if self.grain_max_s < self.grain_min_s:
            raise ValueError(
                f"GrainParams.grain_max_s must be in [grain_min_s={self.grain_min_s}, "
                f"{_RANGES['grain_max_s'][1]}], not {self.grain_max_s!r}"
            )

    def window_energy(self) -> float:
        """Mean of w² over a grain for the Tukey window: flat part 1, raised-cosine taper 3/8."""
        return 1.0 - 0.625 * self.attack_release

    def expected_overlap(self) -> float:
        """Mean number of grains sounding at once, weighted by window energy.

        rate (grains/s) × mean duration (s) × window energy. Uncorrelated grains add in
        power, so a per-grain gain of 1/sqrt(this) keeps output power equal to the
        source's whatever the density (the overlap normalization).
        """
        mean_s = 0.5 * (self.grain_min_s + self.grain_max_s)
        return self.grains_per_s * mean_s * self.window_energy()


# Allowed closed ranges, in each field's unit.
_RANGES: dict[str, tuple[float, float]] = {
    "grain_min_s": (0.005, 1.0),
    "grain_max_s": (0.005, 2.0),
    "grains_per_s": (0.1, 1000.0),
    "onset_jitter": (0.0, 1.0),
    "attack_release": (0.0, 1.0),
    "pan_spread": (0.0, 1.0),
    "pitch_jitter_semitones": (0.0, 12.0),
    "p_smoothing_s": (0.0, 60.0),
    "crossfade_s": (0.0, 30.0),
    "volume_ramp_s": (0.001, 5.0),
    "target_lufs": (-70.0, 0.0),
    "level_balance": (0.0, 1.0),
    "limiter_ceiling_dbfs": (-20.0, 0.0),
    "max_voices": (1, 1024),
}

#: The paper's settings; also the Granulator's default.
DEFAULT_PARAMS = GrainParams()
