"""The audio kernel: one call renders one block of every layer through the master section.

Compiled ahead of the first block (explicit signature, so a wrong dtype raises a
TypeError instead of compiling inside the audio thread) and cached on disk. Importing
this module compiles or loads it; ``warm_up()`` does that and exercises every path.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from numba import float32, float64, int16, int32, int64, njit, types, void

from appliance.synth.grain import render_voices, spawn
from appliance.synth.layout import (
    F_INTERVAL,
    F_JITTER,
    F_P_ALPHA,
    F_PAN_CENTER,
    F_SLOT,
    F_SLOT_STRIDE,
    I_ACTIVE_VOICES,
    I_BLOCKS,
    I_RNG,
    I_SLOT,
    I_SLOT_STRIDE,
    OUT_F32,
    OUT_S16,
    S_ACTIVE,
    S_DIRTY,
    S_FADE_DIR,
    S_FADE_POS,
    S_FADE_STEP,
    S_LOUD_GAIN,
    S_NEXT_ONSET,
    V_ACTIVE,
)
from appliance.synth.limiter import finish_block
from appliance.synth.rng import uniform
from appliance.synth.sampler import smooth_p

_HERE = Path(__file__).resolve().parent
# Numba keys its cache on this file only; a change in a kernel it calls would load a stale
# build. The hash of those files is baked into the kernel's closure, hence into the key.
_DEPENDENCIES = ("grain.py", "layout.py", "limiter.py", "rng.py", "sampler.py", "window.py")


def _stamp() -> str:
    h = hashlib.sha256()
    for name in _DEPENDENCIES:
        h.update((_HERE / name).read_bytes())
    return h.hexdigest()


# Source audio is int16 PCM only (Source.pcm), typed read-only so a memory-mapped corpus
# (np.load(..., mmap_mode="r")) is read in place; a writable int16 array converts to it.
# One signature: any two sources crossfade, and the cold compile stays one kernel's.
PCM = types.Array(int16, 2, "C", readonly=True)

RENDER_SIGNATURE = void(
    PCM,  # int16 audio of layer slot 0 (frames, channels), full scale 32768
    float64[:, ::1],  # kf of slot 0 (KF_ROWS, K)
    PCM,  # audio of slot 1
    float64[:, ::1],  # kf of slot 1
    float64[:, :, ::1],  # voices (2, max_voices, V_FIELDS)
    float64[::1],  # fstate
    int64[::1],  # istate
    float32[:, ::1],  # bus (4, block): rows 0/1 mix, rows 2/3 a fading layer
    float32[:, ::1],  # overlay (block, 2), or (0, 2) for none
    float32[:, ::1],  # out float32 (block, 2), or (0, 2)
    int16[::1],  # out int16 interleaved (2 × block,), or (0,)
    int32[::1],  # out int32 interleaved, or (0,)
    int64,  # output mode (OUT_*)
)


@njit(nogil=True, inline="always")
def _fade(pos):
    """Equal-power fade gain for pos in [0, 1]: sin² + cos² = 1 across a crossfade."""
    return math.sin(pos * (math.pi / 2.0))


@njit(nogil=True)
def render_layer(audio, kf, voices, fstate, istate, bus, slot, pan_center):
    """Smooth p, fade, spawn and mix one layer (slot) into the block; return voices sounding."""
    block = bus.shape[1]
    fs = F_SLOT + slot * F_SLOT_STRIDE
    dirty = I_SLOT + slot * I_SLOT_STRIDE + S_DIRTY
    if istate[dirty] != 0 and smooth_p(kf, fstate[F_P_ALPHA]):
        istate[dirty] = 0
    # Fade position at the block's ends; the layer gain is loudness normalization × an
    # equal-power fade sin(pos·π/2), sample by sample so fades keep their length whatever
    # the block size.
    pos0 = fstate[fs + S_FADE_POS]
    step = fstate[fs + S_FADE_DIR] * fstate[fs + S_FADE_STEP]
    pos1 = min(1.0, max(0.0, pos0 + step * block))
    fstate[fs + S_FADE_POS] = pos1
    loud = fstate[fs + S_LOUD_GAIN]
    # New grains at their exact sample inside this block.
    t = fstate[fs + S_NEXT_ONSET]
    interval = fstate[F_INTERVAL]
    jitter = fstate[F_JITTER]
    while t < block:
        spawn(voices, audio, kf, fstate, istate, slot, I_RNG, int(t), pan_center)
        t += max(1.0, interval * (1.0 + jitter * (2.0 * uniform(istate, I_RNG) - 1.0)))
    fstate[fs + S_NEXT_ONSET] = t - block
    src = audio.reshape(-1)  # interleaved frames, a view
    channels = audio.shape[1]
    if pos0 == pos1:  # steady: fold the layer gain into the voices
        sounding = render_voices(voices, src, channels, bus[0], bus[1], loud * _fade(pos0))
    else:  # fading: render apart, then apply the gain sample by sample
        bus[2, :] = 0.0
        bus[3, :] = 0.0
        sounding = render_voices(voices, src, channels, bus[2], bus[3], 1.0)
        for i in range(block):
            g = float32(loud * _fade(min(1.0, max(0.0, pos0 + step * (i + 1)))))
            bus[0, i] += bus[2, i] * g
            bus[1, i] += bus[3, i] * g
    if fstate[fs + S_FADE_DIR] < 0.0 and pos1 <= 0.0:  # faded out: release the layer
        istate[I_SLOT + slot * I_SLOT_STRIDE + S_ACTIVE] = 0
        voices[:, V_ACTIVE] = 0.0
        sounding = 0
    return sounding


def _build(stamp: str):
    # Only the stamp may be a closure variable: Numba pickles closure contents into the
    # cache key, and a dispatcher does not pickle the same way twice.
    @njit(RENDER_SIGNATURE, cache=True, nogil=True)
    def render_block(audio0, kf0, audio1, kf1, voices, fstate, istate, bus, overlay, out_f,
                     out_s16, out_s32, mode):
        if len(stamp) == 0:  # never true: keeps the stamp in the closure (the cache key)
            return
        block = bus.shape[1]
        if mode == OUT_F32:
            if out_f.shape[0] != block or out_f.shape[1] != 2:
                raise ValueError("out must be float32 (block_size, 2)")
        elif mode == OUT_S16:
            if out_s16.shape[0] != 2 * block:
                raise ValueError("out must be int16 (2 * block_size,)")
        elif out_s32.shape[0] != 2 * block:
            raise ValueError("out must be int32 (2 * block_size,)")
        if overlay.shape[0] != 0 and (overlay.shape[0] != block or overlay.shape[1] != 2):
            raise ValueError("overlay must be float32 (block_size, 2)")
        bus[0, :] = 0.0
        bus[1, :] = 0.0
        pan_center = fstate[F_PAN_CENTER]
        sounding = 0
        for slot in range(2):  # a loop, not two calls with literal slots: one compiled copy
            if istate[I_SLOT + slot * I_SLOT_STRIDE + S_ACTIVE] != 0:
                audio = audio0 if slot == 0 else audio1
                kf = kf0 if slot == 0 else kf1
                sounding += render_layer(audio, kf, voices[slot], fstate, istate, bus, slot,
                                         pan_center)
        istate[I_ACTIVE_VOICES] = sounding
        finish_block(bus, overlay, fstate, out_f, out_s16, out_s32, mode)
        istate[I_BLOCKS] += 1

    return render_block


render_block = _build(_stamp())
