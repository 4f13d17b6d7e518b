"""Sample formats the sinks accept, and the check every block goes through.

A block is interleaved PCM: ``block_size * channels`` samples, as a flat
array or shaped ``(frames, channels)``, int16 for ``"S16_LE"`` and int32
for ``"S32_LE"`` (ALSA's names). A shorter final block (whole frames) is
allowed.
"""

from __future__ import annotations

import numpy as np

#: ALSA format name → numpy dtype (little-endian, as ALSA and WAV want).
SAMPLE_FORMATS: dict[str, np.dtype] = {
    "S16_LE": np.dtype("<i2"),
    "S32_LE": np.dtype("<i4"),
}


def sample_dtype(sample_format: str) -> np.dtype:
    """The numpy dtype of ``sample_format``; ValueError for an unsupported one."""
    try:
        return SAMPLE_FORMATS[sample_format]
    except KeyError:
        raise ValueError(
            f"sample format {sample_format!r} is not supported; use one of "
            f"{', '.join(SAMPLE_FORMATS)}"
        ) from None


def check_block(
    block: np.ndarray, *, channels: int, block_size: int, sample_format: str
) -> np.ndarray:
    """``block`` as a flat, C-contiguous little-endian array, after checking it.

    Raises ValueError for a wrong dtype, a partial frame or more than
    ``block_size`` frames (a programming error, not a device error).
    """
    dtype = sample_dtype(sample_format)
    block = np.asarray(block)
    if block.dtype.kind != "i" or block.dtype.itemsize != dtype.itemsize:
        raise ValueError(
            f"a {sample_format} sink takes int{8 * dtype.itemsize} samples, not {block.dtype}"
        )
    flat = block.reshape(-1)
    if flat.size % channels or flat.size > block_size * channels:
        raise ValueError(
            f"a block is at most {block_size} frames of {channels} interleaved samples "
            f"({block_size * channels} samples), not {flat.size}"
        )
    return np.ascontiguousarray(flat, dtype=dtype)
