"""Grains: spawning a voice from p, and mixing voices into a block (cf. Clouds' grain.h).

A voice is one row of the fixed ``voices`` array (fields in ``layout``). Mixing splits
each voice's span in the block into attack, flat and release segments so every inner
loop is straight-line code over contiguous memory (vectorized); only pitch-jittered
voices take the per-sample interpolating path.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from appliance.synth.layout import (
    F_GRAIN_MAX,
    F_GRAIN_MIN,
    F_OVERLAP_GAIN,
    F_PAN_SPREAD,
    F_PITCH_JITTER,
    F_TAPER,
    I_DROPPED,
    I_LOG,
    I_SLOT,
    I_SLOT_STRIDE,
    I_STARTED,
    KF_GAIN,
    KF_PAN,
    LOG_SIZE,
    PCM_SCALE,
    S_LOG_COUNT,
    V_ACTIVE,
    V_AGE,
    V_ATT,
    V_DELAY,
    V_GL,
    V_GR,
    V_LEN,
    V_POS,
    V_RATE,
)
from appliance.synth.rng import uniform
from appliance.synth.sampler import draw_start
from appliance.synth.window import rise, tukey

_SQRT2 = math.sqrt(2.0)


@njit(nogil=True)
def spawn(voices, audio, kf, fstate, istate, slot, rng, onset, pan_center):
    """Start a grain ``onset`` samples into the current block on layer ``slot``.

    Draws duration, transposition, start (from p) and pan; a full pool drops the
    grain and counts it, as SuperCollider and pyo do.
    """
    free = -1
    for v in range(voices.shape[0]):
        if voices[v, V_ACTIVE] == 0.0:
            free = v
            break
    # Random draws happen even for a dropped grain so the stream stays reproducible.
    u_len = uniform(istate, rng)
    u_pitch = uniform(istate, rng) if fstate[F_PITCH_JITTER] > 0.0 else 0.5
    u_span = uniform(istate, rng)
    u_pos = uniform(istate, rng)
    u_pan = uniform(istate, rng)
    if free < 0:
        istate[I_DROPPED] += 1
        return
    frames = audio.shape[0]
    g_min = fstate[F_GRAIN_MIN]
    length = int(g_min + u_len * (fstate[F_GRAIN_MAX] - g_min) + 0.5)
    rate = 1.0
    if fstate[F_PITCH_JITTER] > 0.0:
        rate = 2.0 ** (fstate[F_PITCH_JITTER] * (2.0 * u_pitch - 1.0) / 12.0)
        need = math.ceil((length - 1) * rate) + 2  # +1 for the interpolation's right tap
        if need > frames:  # a source shorter than the grain: shorten the grain
            length = int((frames - 2) / rate) + 1
            need = frames
    else:
        length = min(length, frames)
        need = length
    if length < 2:
        return
    start, k = draw_start(kf, frames, need, u_span, u_pos)
    # Around the global centre plus where this keyframe's look is in the camera frame.
    centre = pan_center + kf[KF_PAN, k]
    pan = min(1.0, max(-1.0, centre + fstate[F_PAN_SPREAD] * (2.0 * u_pan - 1.0)))
    theta = (pan + 1.0) * (math.pi / 4.0)  # equal power: cos² + sin² = 1
    gain = fstate[F_OVERLAP_GAIN] * kf[KF_GAIN, k]
    if audio.shape[1] == 2:
        gain *= _SQRT2  # stereo source: pan is a balance, unity for both channels at centre
    voices[free, V_ACTIVE] = 1.0
    voices[free, V_POS] = float(start)
    voices[free, V_RATE] = rate
    voices[free, V_LEN] = float(length)
    voices[free, V_AGE] = 0.0
    voices[free, V_ATT] = float(min(int(fstate[F_TAPER] * 0.5 * length + 0.5), length // 2))
    voices[free, V_GL] = gain * math.cos(theta)
    voices[free, V_GR] = gain * math.sin(theta)
    voices[free, V_DELAY] = float(onset)
    istate[I_STARTED] += 1
    log_count = I_SLOT + slot * I_SLOT_STRIDE + S_LOG_COUNT
    istate[I_LOG + slot * LOG_SIZE + istate[log_count] % LOG_SIZE] = start
    istate[log_count] += 1


# Mixers index with uint64 offsets plus the loop counter: Numba adds no negative-index
# wraparound for unsigned indices, so LLVM sees consecutive addresses and vectorizes the
# loop; and no array views are made (each would cost an atomic refcount pair). They are
# plain calls (a few per voice per block); the window polynomial is inlined into them.
# fastmath contract only lets LLVM fuse multiply-adds (FMA): rounding differs, nothing else.
# ``src`` is int16 PCM: each sample is widened to float32 as it is read, and the 1/32768
# full scale is folded into the gains gl/gr (a power of two: the same bits as reading
# float32 audio equal to pcm/32768).
_U1 = np.uint64(1)
_U2 = np.uint64(2)


@njit(nogil=True, fastmath={"contract"})
def _mix_taper(src, at, channels, left, right, o, n, x0, dx, gl, gr):
    """Add n frames of ``src`` from element ``at`` to ``left``/``right`` from ``o``,
    windowed by rise(x0 + j·dx)."""
    if channels == 1:
        for j in range(n):
            k = np.uint64(j)
            s = np.float32(src[at + k]) * rise(x0 + np.float32(np.int32(j)) * dx)
            left[o + k] += s * gl
            right[o + k] += s * gr
    else:
        for j in range(n):
            k = np.uint64(j)
            e = rise(x0 + np.float32(np.int32(j)) * dx)  # int32: AVX2 converts it in vectors
            left[o + k] += np.float32(src[at + _U2 * k]) * (e * gl)
            right[o + k] += np.float32(src[at + _U2 * k + _U1]) * (e * gr)


@njit(nogil=True, fastmath={"contract"})
def _mix_flat(src, at, channels, left, right, o, n, gl, gr):
    """Add n frames of ``src`` from element ``at`` to ``left``/``right`` from ``o``."""
    if channels == 1:
        for j in range(n):
            k = np.uint64(j)
            s = np.float32(src[at + k])
            left[o + k] += s * gl
            right[o + k] += s * gr
    else:
        for j in range(n):
            k = np.uint64(j)
            left[o + k] += np.float32(src[at + _U2 * k]) * gl
            right[o + k] += np.float32(src[at + _U2 * k + _U1]) * gr


@njit(nogil=True, fastmath={"contract"})
def _mix_interp(src, channels, voices, v, left, right, o, n, gl, gr):
    """Per-sample path for transposed grains: linear interpolation, window per sample."""
    start = voices[v, V_POS]
    rate = voices[v, V_RATE]
    age0 = int(voices[v, V_AGE])
    length = int(voices[v, V_LEN])
    taper = int(voices[v, V_ATT])
    for j in range(n):
        age = age0 + j
        x = start + age * rate
        i = int(x)
        f = np.float32(x - i)
        e = tukey(age, length, taper)
        if channels == 1:
            a = np.float32(src[i])
            s = (a + f * (np.float32(src[i + 1]) - a)) * e
            left[o + j] += s * gl
            right[o + j] += s * gr
        else:
            a = np.float32(src[2 * i])
            b = np.float32(src[2 * i + 1])
            left[o + j] += (a + f * (np.float32(src[2 * i + 2]) - a)) * (e * gl)
            right[o + j] += (b + f * (np.float32(src[2 * i + 3]) - b)) * (e * gr)


@njit(nogil=True)
def render_voices(voices, src, channels, left, right, gain):
    """Mix every active voice of one layer into ``left``/``right`` (one block) at ``gain``.

    ``src`` is the layer's int16 PCM flattened (frames × channels, interleaved). Voices
    that finish are freed; returns the number still sounding.
    """
    block = left.shape[0]
    sounding = 0
    for v in range(voices.shape[0]):
        if voices[v, V_ACTIVE] == 0.0:
            continue
        o = int(voices[v, V_DELAY])  # sample-accurate onset inside the block
        age = int(voices[v, V_AGE])
        length = int(voices[v, V_LEN])
        taper = int(voices[v, V_ATT])
        n = min(block - o, length - age)
        gl = np.float32(voices[v, V_GL] * (gain * PCM_SCALE))
        gr = np.float32(voices[v, V_GR] * (gain * PCM_SCALE))
        if voices[v, V_RATE] != 1.0:
            _mix_interp(src, channels, voices, v, left, right, o, n, gl, gr)
        else:
            # Split [age, age + n) of the grain into attack, flat and release segments.
            pos = int(voices[v, V_POS]) + age  # source frame read at output sample o
            inv = np.float32(1.0) / np.float32(max(taper, 1))
            a = age
            end = age + n
            m = min(end, taper) - a  # attack [0, taper): rise((a + ½) / taper)
            if m > 0:
                x0 = (np.float32(a) + np.float32(0.5)) * inv
                _mix_taper(src, np.uint64(pos * channels), channels, left, right,
                           np.uint64(o), m, x0, inv, gl, gr)
                a += m
            m = min(end, length - taper) - a  # flat [taper, length − taper)
            if m > 0:
                d = a - age
                _mix_flat(src, np.uint64((pos + d) * channels), channels, left, right,
                          np.uint64(o + d), m, gl, gr)
                a += m
            m = end - a  # release [length − taper, length): rise((length − a − ½) / taper)
            if m > 0:
                d = a - age
                x0 = (np.float32(length - a) - np.float32(0.5)) * inv
                _mix_taper(src, np.uint64((pos + d) * channels), channels, left, right,
                           np.uint64(o + d), m, x0, -inv, gl, gr)
        age += n
        voices[v, V_DELAY] = 0.0
        if age >= length:
            voices[v, V_ACTIVE] = 0.0
        else:
            voices[v, V_AGE] = float(age)
            sounding += 1
    return sounding
