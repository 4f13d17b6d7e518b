"""Reading build sources: audio files, and videos (their sound and a frame every N seconds).

Decoding uses PyAV (FFmpeg) only, through :func:`appliance.media.decode_audio`
for sound; everything is resampled once, here, to the corpus' output rate.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from appliance.errors import MediaError
from appliance.media import decode_audio

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mts", ".3gp", ".ogv")

#: Length of the raised-cosine fade applied to both ends of every source file, s.
#: Files are butted together on the timeline; the fades keep the joins click-free.
JOIN_FADE_S = 0.005


def probe_channels(path: Path) -> int:
    """Channel count of the first audio stream of ``path`` (MediaError when there is none)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path} has no audio track; a corpus needs sound aligned with "
                                 "its pictures (use a clip recorded with sound)")
            stream = container.streams.audio[0]
            return int(stream.codec_context.channels or stream.channels or 1)
    except FileNotFoundError as exc:
        raise MediaError(f"{path} not found") from exc
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"{path} could not be opened as media: {exc}") from exc


def decode_file(path: Path, sample_rate: int, channels: int) -> np.ndarray:
    """Decode an audio file (or a video's sound) to float32 (frames, channels) at ``sample_rate``.

    ``channels`` (1 or 2) should be the file's own count, capped at 2: no
    up-mixing happens here. Files libsndfile reads (Ogg Vorbis, FLAC, WAV …)
    are read whole with soundfile and resampled in one call to FFmpeg's
    libswresample, several times faster than frame-by-frame decoding and the
    same samples; anything else (video, MP3, AAC …) goes through PyAV
    (:func:`appliance.media.decode_audio`).
    """
    import soundfile

    try:
        info = soundfile.info(str(path))
    except (RuntimeError, OSError, soundfile.LibsndfileError):
        info = None
    if info is None or info.channels != channels or info.frames <= 0:
        return decode_audio(path, sample_rate, channels)
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError, soundfile.LibsndfileError) as exc:
        raise MediaError(f"{path}: audio could not be decoded: {exc}") from exc
    if data.shape[0] == 0:
        raise MediaError(f"{path}: the audio track is empty")
    if not np.all(np.isfinite(data)):  # a float WAV can hold NaN or infinity
        raise MediaError(f"{path}: the audio holds NaN or infinite samples")
    if rate == sample_rate:
        return np.ascontiguousarray(data)
    return _resample_whole(data, rate, sample_rate)


def _resample_whole(data: np.ndarray, rate: int, sample_rate: int) -> np.ndarray:
    import av

    ch = data.shape[1]
    layout = "mono" if ch == 1 else "stereo"
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data.T), format="fltp", layout=layout)
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="flt", layout=layout, rate=sample_rate)
    chunks = [f.to_ndarray().reshape(-1, ch) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1, ch) for f in resampler.resample(None)]
    return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)


def fade_ends(audio: np.ndarray, sample_rate: int, seconds: float = JOIN_FADE_S) -> np.ndarray:
    """Raised-cosine fade-in and fade-out of ``seconds`` on float32 (frames, ch), in place."""
    n = min(round(seconds * sample_rate), audio.shape[0] // 2)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
        audio[:n] *= ramp[:, None]
        audio[-n:] *= ramp[::-1, None]
    return audio


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1] → int16 PCM (clipped, rounded)."""
    return np.rint(np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)


def _frame_rgb(frame) -> np.ndarray:
    """A video frame as RGB uint8, scaled down (aspect kept) to at most OUT_PIXELS pixels."""
    from appliance.vision.images import OUT_PIXELS

    w, h = int(frame.width), int(frame.height)
    if w * h <= OUT_PIXELS:
        return frame.to_ndarray(format="rgb24")
    s = (OUT_PIXELS / (w * h)) ** 0.5
    return frame.to_ndarray(format="rgb24", width=max(2, int(w * s)), height=max(2, int(h * s)))


def video_frames_at(path: Path, times: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(i, rgb)``: for each time ``times[i]`` (s, ascending, from the stream's start),
    the first video frame shown at or after it, as H×W×3 uint8.

    Times after the last frame get nothing (the caller drops those keyframes).
    Raises MediaError when the file has no video track or no frame decodes.
    """
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"{path} could not be opened as media: {exc}") from exc
    with container:
        if not container.streams.video:
            raise MediaError(f"{path} has no video track; for sound plus photographs write a "
                             "scene manifest (see corpora/README.md)")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        start: float | None = None
        nxt = 0
        last = -1.0
        try:
            for frame in container.decode(stream):
                if frame.pts is None or frame.time is None:
                    continue
                if start is None:
                    start = float(frame.time)
                t = float(frame.time) - start
                if t < last:  # out-of-order timestamps: keep the first seen
                    continue
                last = t
                rgb = None
                # A frame stands for every target time up to its own presentation time.
                while nxt < len(times) and times[nxt] <= t + 1e-6:
                    if rgb is None:
                        rgb = _frame_rgb(frame)
                    yield nxt, rgb
                    nxt += 1
                if nxt >= len(times):
                    break
        except av.error.FFmpegError as exc:
            raise MediaError(f"{path}: video could not be decoded: {exc}") from exc
        if start is None:
            raise MediaError(f"{path}: the video track has no decodable frames")
