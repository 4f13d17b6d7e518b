"""Integrated loudness (EBU R128 / ITU-R BS.1770-4), the corpus loudness figure.

Every corpus carries this number; the Granulator gains each corpus by
``target_lufs − loudness`` so switching corpora does not jump in level.
"""

from __future__ import annotations

import numpy as np

#: What silence (everything below the absolute gate) measures, LUFS. A finite floor keeps
#: manifests plain JSON; the Granulator caps the make-up gain anyway.
LOUDNESS_FLOOR_LUFS = -70.0

_BLOCK_S = 0.400  # gating block (BS.1770-4)
_HOPS_PER_BLOCK = 4  # 75 % overlap: a block every 100 ms
_ABSOLUTE_GATE_LUFS = -70.0
_RELATIVE_GATE_LU = -10.0


def _lufs(mean_square: np.ndarray | float) -> np.ndarray | float:
    # −0.691 cancels the K-filter's gain at 1 kHz: a 0 dBFS 1 kHz sine on one channel reads −3.01.
    with np.errstate(divide="ignore"):
        return -0.691 + 10.0 * np.log10(mean_square)


def measure_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of ``audio`` in LUFS (BS.1770-4: K-weighting, 400 ms gating blocks
    with 75 % overlap, absolute gate −70 LUFS, relative gate −10 LU).

    ``audio`` is ``(frames,)`` or ``(frames, channels)`` with 1 or 2 channels, float
    full scale ±1, or int16 PCM (full scale 32768, as the Granulator plays it; measured
    on a float32 copy); channel weights are 1 (a mono file duplicated to stereo reads
    3 dB louder than the mono file, as the standard says). Audio shorter than one block
    is measured as a single block. Silence returns :data:`LOUDNESS_FLOOR_LUFS`.
    """
    from appliance.synth.kweighting import hop_power, k_weighting_coefficients

    a = np.asarray(audio)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[1] not in (1, 2) or a.shape[0] == 0:
        raise ValueError(f"audio must be (frames,) or (frames, 1|2) and non-empty, not {a.shape}")
    if sample_rate < 8000:
        raise ValueError(f"sample_rate must be at least 8000 Hz, not {sample_rate}")
    if a.dtype == np.int16:
        a = a.astype(np.float32) * np.float32(1.0 / 32768.0)
    a = np.ascontiguousarray(a, dtype=np.float32)
    hop = round(sample_rate * _BLOCK_S / _HOPS_PER_BLOCK)
    coefs = k_weighting_coefficients(sample_rate)
    if a.shape[0] < hop * _HOPS_PER_BLOCK:
        blocks = hop_power(a, coefs, a.shape[0]).sum(axis=1)
    else:
        hops = hop_power(a, coefs, hop)  # (hops, channels)
        per_hop = hops.sum(axis=1)  # channel weights G = 1
        kernel = np.ones(_HOPS_PER_BLOCK) / _HOPS_PER_BLOCK
        blocks = np.convolve(per_hop, kernel, mode="valid")
    loud = _lufs(blocks)
    gated = blocks[loud > _ABSOLUTE_GATE_LUFS]
    if gated.size == 0:
        return LOUDNESS_FLOOR_LUFS
    relative_gate = _lufs(gated.mean()) + _RELATIVE_GATE_LU
    gated = gated[_lufs(gated) > relative_gate]
    return max(float(_lufs(gated.mean())), LOUDNESS_FLOOR_LUFS)
