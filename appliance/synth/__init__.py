"""Granular synthesizer: an endless stereo stream of grains drawn from p over a timeline.

Importing this package does not import Numba: the kernels compile (or load from the
cache) when the first :class:`Granulator` is made or :func:`warm_up` runs.

One file per idea: ``params`` (GrainParams), ``source`` (Source), ``loudness`` and
``kweighting`` (BS.1770 corpus loudness), ``balance`` (level balance between the
parts of one corpus), ``layout`` (index map of the fixed state
arrays), ``rng`` (xorshift64*), ``window`` (Tukey taper), ``sampler`` (p and pan smoothing,
inverse-CDF starts), ``grain`` (spawning and mixing voices), ``limiter`` (volume, soft
limiter, output formats), ``engine`` (the per-block kernel), ``granulator`` (the Python
object and its threading), ``reference`` (a plain NumPy granulator for the benchmark).
"""

from appliance.synth.granulator import Granulator, GranulatorStats, warm_up
from appliance.synth.loudness import LOUDNESS_FLOOR_LUFS, measure_loudness
from appliance.synth.params import DEFAULT_PARAMS, GrainParams
from appliance.synth.source import Source

__all__ = [
    "DEFAULT_PARAMS",
    "LOUDNESS_FLOOR_LUFS",
    "GrainParams",
    "Granulator",
    "GranulatorStats",
    "Source",
    "measure_loudness",
    "warm_up",
]
