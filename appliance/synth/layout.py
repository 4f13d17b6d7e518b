"""Index map of the Granulator's fixed-size state arrays, shared by Python and the kernels.

All state lives in a few arrays allocated once (no Python objects cross into the audio
kernel): ``fstate`` float64, ``istate`` int64, ``voices`` float64 ``(2, max_voices,
V_FIELDS)``, and per layer a ``kf`` float64 ``(KF_ROWS, K)``. Module-level ints are
compile-time constants to Numba.
"""

# --- fstate: parameters (written once by the Granulator) ---
F_GRAIN_MIN = 0  # shortest grain, samples
F_GRAIN_MAX = 1  # longest grain, samples
F_INTERVAL = 2  # mean inter-onset interval, samples
F_JITTER = 3  # onset jitter, fraction of F_INTERVAL
F_TAPER = 4  # Tukey taper fraction (attack + release)
F_PAN_SPREAD = 5  # 0..1
F_PITCH_JITTER = 6  # semitones
F_OVERLAP_GAIN = 7  # per-grain gain, 1/sqrt(expected overlap)
F_P_ALPHA = 8  # one-pole coefficient of the p smoothing, per block
F_VOL_STEP = 9  # master volume slew, per sample
F_LIM_THRESHOLD = 10  # limiter threshold, linear
F_LIM_CEILING = 11  # limiter ceiling, linear
F_LIM_ATTACK = 12  # one-pole coefficients of the limiter gain, per sample
F_LIM_RELEASE = 13
# --- fstate: controls (any thread writes them; an aligned float64 store is atomic) ---
F_VOL_TARGET = 16  # linear 0..1
F_PAN_CENTER = 17  # -1..1
# --- fstate: state owned by the kernel ---
F_VOL = 20  # current master volume
F_LIM_GAIN = 21  # current limiter gain
F_SLOT = 24  # per layer slot s: F_SLOT + s * F_SLOT_STRIDE + one of:
F_SLOT_STRIDE = 8
S_FADE_POS = 0  # 0 (silent) .. 1 (full); gain = loudness gain × sin(pos · π/2)
S_FADE_DIR = 1  # +1 fading in / steady, -1 fading out (released at 0)
S_FADE_STEP = 2  # fade position change per sample
S_LOUD_GAIN = 3  # loudness normalization gain, linear
S_NEXT_ONSET = 4  # next grain onset, samples after the start of the next block
F_SIZE = F_SLOT + 2 * F_SLOT_STRIDE

# --- istate ---
I_RNG = 0  # xorshift64* state (bits of a uint64)
I_STARTED = 1  # grains started (all layers)
I_DROPPED = 2  # grains dropped because the voice pool was full
I_BLOCKS = 3  # blocks rendered
I_ACTIVE_VOICES = 4  # voices sounding after the last block (all layers)
I_CURRENT = 5  # slot of the current layer (the other one is outgoing or free)
I_SLOT = 8  # per slot s: I_SLOT + s * I_SLOT_STRIDE + one of:
I_SLOT_STRIDE = 4
S_ACTIVE = 0  # 1 while the layer sounds
S_DIRTY = 1  # 1 while the smoothed p has not reached the target
S_LOG_COUNT = 2  # grains logged (ring index = count % LOG_SIZE)
I_LOG = 16  # grain start log, LOG_SIZE entries per slot (source frames)
LOG_SIZE = 4096
I_SIZE = I_LOG + 2 * LOG_SIZE

# --- voices[slot, v, field] ---
V_ACTIVE = 0  # 1.0 while sounding
V_POS = 1  # first source frame read
V_RATE = 2  # playback rate (1.0 unless pitch jitter)
V_LEN = 3  # length, output samples
V_AGE = 4  # output samples already rendered
V_ATT = 5  # taper length at each end, samples
V_GL = 6  # left / right gain (pan × overlap normalization)
V_GR = 7
V_DELAY = 8  # onset inside the current block, samples (0 once started)
V_FIELDS = 9

# --- kf[row, k] ---
KF_TARGET = 0  # latest published p
KF_SMOOTH = 1  # smoothed p the sampler uses
KF_CDF = 2  # cumulative sum of KF_SMOOTH
KF_START = 3  # first source frame of keyframe k
KF_GAIN = 4  # level balance gain of keyframe k's grains, linear (1 without balance)
KF_PAN_TARGET = 5  # latest published pan centre of keyframe k's grains, -1..1
KF_PAN = 6  # smoothed pan centre the grains use (smoothed with p)
KF_ROWS = 7

# --- output modes of the render kernel ---
OUT_F32 = 0  # float32 (block, 2)
OUT_S16 = 1  # int16 interleaved (2 × block,)
OUT_S32 = 2  # int32 interleaved (2 × block,)

# --- source audio: int16 PCM (frames, channels), read at this scale (full scale 32768) ---
PCM_SCALE = 1.0 / 32768.0
