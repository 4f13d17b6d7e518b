"""Decode audio (and video audio tracks) with PyAV, resampled once to the output rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from appliance.errors import MediaError

_LAYOUTS = {1: "mono", 2: "stereo"}


def decode_audio(path: Path | str, sample_rate: int, channels: int = 2) -> np.ndarray:
    """Decode the first audio stream of ``path`` to float32 ``(frames, channels)``.

    Resampled with libswresample to ``sample_rate`` Hz; mono sources are
    duplicated to stereo when ``channels`` is 2. Raises :class:`MediaError`
    when the file is missing, unreadable, has no audio track or holds samples
    that are not finite (whatever the file holds: nothing else escapes).
    """
    import av  # lazy: PyAV pulls in FFmpeg's libraries

    path = Path(path)
    if channels not in _LAYOUTS:
        raise ValueError(f"channels must be 1 or 2, not {channels}")
    if not path.is_file():
        raise MediaError(f"audio source {path} not found")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"{path} could not be opened as media: {exc}") from exc
    with container:
        if not container.streams.audio:
            raise MediaError(
                f"{path} has no audio track; a corpus needs sound aligned with its pictures"
            )
        stream = container.streams.audio[0]
        # Resample in the source's own layout (mono stays mono), then duplicate or
        # average here: libswresample's mono→stereo upmix is 3 dB down per channel.
        native = 1 if stream.codec_context.channels == 1 else 2
        resampler = av.AudioResampler(format="flt", layout=_LAYOUTS[native], rate=sample_rate)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                chunks.extend(f.to_ndarray().reshape(-1, native) for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray().reshape(-1, native) for f in resampler.resample(None))
        except (av.error.FFmpegError, ValueError) as exc:
            raise MediaError(f"{path}: audio could not be decoded: {exc}") from exc
    if not chunks:
        raise MediaError(f"{path}: the audio track is empty")
    audio = np.concatenate(chunks)
    if not np.all(np.isfinite(audio)):  # a float WAV can hold NaN or infinity: never played
        raise MediaError(f"{path}: the audio holds NaN or infinite samples")
    if native != channels:
        audio = np.repeat(audio, 2, axis=1) if channels == 2 else audio.mean(axis=1, keepdims=True)
    return np.ascontiguousarray(audio, dtype=np.float32)
