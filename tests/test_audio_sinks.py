"""Audio sinks for real: WAV files read back, real-time pacing, and ALSA's absence here."""

from __future__ import annotations

import importlib.util
import logging
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from appliance.audio import (
    AlsaSink,
    PacedSink,
    RetryingSink,
    WavSink,
    list_alsa_devices,
    open_sink,
)
from appliance.audio.alsa import proc_asound_cards
from appliance.audio.formats import check_block
from appliance.errors import AudioDeviceError

RATE, BLOCK = 48000, 512
PERIOD_S = BLOCK / RATE  # 10.7 ms

has_pyalsaaudio = importlib.util.find_spec("alsaaudio") is not None
no_sound_card_here = pytest.mark.skipif(
    has_pyalsaaudio and bool(proc_asound_cards()), reason="this machine has ALSA and a card"
)
needs_pyalsaaudio = pytest.mark.skipif(
    not has_pyalsaaudio,
    reason="pyalsaaudio is not installed (it builds against ALSA's headers: apt install "
    "libasound2-dev, then ./scripts/test installs it)",
)
#: An ALSA device that needs no sound card: alsa-lib's ``file`` plugin writes the raw
#: interleaved samples to a file (over its default ``null`` slave).
def alsa_file_device(path: Path) -> str:
    return f"file:'{path}',raw"


#: A card that is not there, with or without pyalsaaudio: opening it really fails.
MISSING_CARD = "hw:CARD=NoSuchCard"


@pytest.fixture
def without_pyalsaaudio(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine without pyalsaaudio: ``import alsaaudio`` raises ImportError."""
    monkeypatch.setitem(sys.modules, "alsaaudio", None)


def blocks(n: int, dtype: type = np.int16, seed: int = 0) -> list[np.ndarray]:
    """``n`` blocks of full-scale noise, interleaved stereo."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    return [
        rng.integers(info.min, info.max, size=BLOCK * 2, endpoint=True, dtype=dtype)
        for _ in range(n)
    ]


def read_wav(path: Path) -> tuple[wave._wave_params, bytes]:
    with wave.open(str(path), "rb") as wav:
        return wav.getparams(), wav.readframes(wav.getnframes())


# -- WAV ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "dtype"), [("S16_LE", np.int16), ("S32_LE", np.int32)])
def test_wav_sink_reads_back_bit_exact(tmp_path: Path, fmt: str, dtype: type) -> None:
    path = tmp_path / "out" / "render.wav"
    data = blocks(20, dtype)
    data.append(data[0][: 100 * 2])  # a short final block
    data[3] = data[3].reshape(BLOCK, 2)  # (frames, channels) works too
    with WavSink(path, RATE, BLOCK, fmt) as sink:
        for block in data:
            sink.write(block)
        assert sink.frames_written == 20 * BLOCK + 100 and sink.blocks_written == 21
    params, raw = read_wav(path)
    assert (params.nchannels, params.sampwidth, params.framerate) == (2, np.dtype(dtype).itemsize,
                                                                     RATE)
    assert params.nframes == 20 * BLOCK + 100
    back = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
    assert np.array_equal(back, np.concatenate([b.reshape(-1) for b in data]))


def test_wav_sink_is_readable_before_close_and_does_not_pace(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    sink = WavSink(path, RATE, BLOCK)
    sink.open()
    one = blocks(1)[0]
    start = time.monotonic()
    for _ in range(940):  # 10 s of audio
        sink.write(one)
    assert time.monotonic() - start < 2.0  # as fast as it can, not in real time
    params, _ = read_wav(path)  # the header is kept up to date as it goes
    assert params.nframes == 940 * BLOCK
    sink.close()
    sink.close()  # harmless twice
    assert sink.duration_s == pytest.approx(940 * PERIOD_S)


def test_blocks_are_checked() -> None:
    with pytest.raises(ValueError, match="int16"):
        check_block(np.zeros(BLOCK * 2, np.float32), channels=2, block_size=BLOCK,
                    sample_format="S16_LE")
    with pytest.raises(ValueError, match="interleaved"):
        check_block(np.zeros(BLOCK * 2 + 1, np.int16), channels=2, block_size=BLOCK,
                    sample_format="S16_LE")
    with pytest.raises(ValueError, match="interleaved"):
        check_block(np.zeros(BLOCK * 4, np.int16), channels=2, block_size=BLOCK,
                    sample_format="S16_LE")
    with pytest.raises(ValueError, match="not supported"):
        WavSink("x.wav", RATE, BLOCK, "FLOAT_LE")


# -- paced -------------------------------------------------------------------------------------


def test_paced_sink_consumes_in_real_time() -> None:
    n = 47  # 0.501 s of audio
    one = blocks(1)[0]
    with PacedSink(RATE, BLOCK, buffer_blocks=8) as sink:
        start = time.monotonic()
        for _ in range(n):
            sink.write(one)
        took = time.monotonic() - start
    expected = n * PERIOD_S - sink.buffer_s  # the last block waits until it fits the buffer
    assert sink.buffer_s == pytest.approx(8 * PERIOD_S)
    assert expected - 0.03 <= took <= expected + 0.3  # generous: a busy machine oversleeps
    assert sink.deadline_misses == 0 and sink.xruns == 0 and sink.lateness_s == []
    assert sink.blocks_written == n and sink.frames_written == n * BLOCK


def test_paced_sink_records_a_deadline_miss_when_the_writer_stalls(tmp_path: Path) -> None:
    path = tmp_path / "heard.wav"
    loud = np.full(BLOCK * 2, 1000, np.int16)
    with PacedSink(RATE, BLOCK, buffer_blocks=4, record=path) as sink:
        for _ in range(8):
            sink.write(loud)
        time.sleep(0.15)  # longer than the 43 ms buffer: it runs dry
        for _ in range(8):
            sink.write(loud)
    assert sink.deadline_misses == 1 and sink.xruns == 1
    (late,) = sink.lateness_s
    # The buffer ran dry 4 periods after the 8th write returned, ~43 ms into the sleep.
    assert 0.15 - 4 * PERIOD_S - 0.01 <= late <= 0.15 + 0.1
    assert sink.longest_gap_s == late
    assert sink.longest_write_interval_s >= 0.15
    # The recording is what a listener heard: the blocks with the silence between them.
    _, raw = read_wav(path)
    heard = np.frombuffer(raw, "<i2").reshape(-1, 2)[:, 0]
    silent = np.flatnonzero(heard == 0)
    assert len(heard) == 16 * BLOCK + len(silent)
    assert silent[0] == 8 * BLOCK and np.all(np.diff(silent) == 1)
    assert len(silent) == pytest.approx(late * RATE, abs=2)
    assert sink.dropouts == [(8 * BLOCK, len(silent))]  # where the recording's silence is


def test_paced_sink_has_no_miss_when_the_writer_keeps_up() -> None:
    one = blocks(1)[0]
    with PacedSink(RATE, BLOCK, buffer_blocks=8) as sink:
        for _ in range(30):
            time.sleep(PERIOD_S / 3)  # some synthesis work, well within a period
            sink.write(one)
    assert sink.deadline_misses == 0 and sink.longest_gap_s == 0.0


# -- ALSA through alsa-lib, with no sound card: its file plugin ---------------------------------


@needs_pyalsaaudio
@pytest.mark.parametrize("sample_format", ["S16_LE", "S32_LE"])
def test_alsa_sink_plays_every_sample_through_alsa_lib(tmp_path: Path, sample_format: str) -> None:
    raw = tmp_path / "out.raw"
    dtype = np.int16 if sample_format == "S16_LE" else np.int32
    sent = blocks(25, dtype)
    with AlsaSink(alsa_file_device(raw), RATE, BLOCK, periods=4,
                  sample_format=sample_format) as sink:
        # What ALSA granted, read back with PCM.info().
        assert sink.period_size == BLOCK and sink.buffer_size == 4 * BLOCK
        assert sink.latency_s == pytest.approx(4 * PERIOD_S)
        assert f"{RATE} Hz, {sample_format}" in sink.description
        for block in sent:
            sink.write(block)
        assert sink.xruns == 0 and sink.blocks_written == 25 and sink.frames_written == 25 * BLOCK
    # close() drained the buffer: every sample arrived, in order.
    assert raw.read_bytes() == b"".join(b.tobytes() for b in sent)
    sink.close()  # harmless when closed


@needs_pyalsaaudio
def test_alsa_sink_refuses_a_wrong_block_before_alsa_sees_it(tmp_path: Path) -> None:
    raw = tmp_path / "out.raw"
    short = blocks(1)[0][: BLOCK]  # half a block: a last, partial one plays
    with AlsaSink(alsa_file_device(raw), RATE, BLOCK) as sink:
        with pytest.raises(ValueError, match="int16"):
            sink.write(np.zeros(BLOCK * 2, np.int32))  # S32 samples for an S16 device
        with pytest.raises(ValueError):
            sink.write(np.zeros(BLOCK * 4, np.int16))  # two blocks at once
        sink.write(short)
    assert raw.read_bytes() == short.tobytes()


@needs_pyalsaaudio
def test_alsa_sink_names_a_missing_card_and_how_to_look() -> None:
    sink = AlsaSink(MISSING_CARD, RATE, BLOCK)
    with pytest.raises(AudioDeviceError) as info:
        sink.open()
    message = str(info.value)
    assert f"cannot open ALSA device {MISSING_CARD!r}" in message and "aplay -l" in message


@needs_pyalsaaudio
def test_open_sink_alsa_spec_plays_through_alsa_lib(tmp_path: Path) -> None:
    raw = tmp_path / "spec.raw"
    sink = open_sink(f"alsa:{alsa_file_device(raw)}", sample_rate=RATE, block_size=BLOCK)
    sink.open()
    sent = blocks(3)
    for block in sent:
        sink.write(block)
    sink.close()
    assert raw.read_bytes() == b"".join(b.tobytes() for b in sent)


# -- ALSA without pyalsaaudio ------------------------------------------------------------------


def test_alsa_sink_without_pyalsaaudio_says_how_to_install(without_pyalsaaudio: None) -> None:
    sink = AlsaSink("default", RATE, BLOCK)
    with pytest.raises(AudioDeviceError) as info:
        sink.open()
    message = str(info.value)
    assert "'default'" in message
    assert "pip install pyalsaaudio" in message and "apt install libasound2-dev" in message
    with pytest.raises(AudioDeviceError, match="not open"):
        sink.write(blocks(1)[0])
    sink.close()  # harmless


def test_open_sink_alsa_spec_names_the_spec(without_pyalsaaudio: None) -> None:
    with pytest.raises(AudioDeviceError, match=r"'alsa:plughw:CARD=Device'.*pyalsaaudio"):
        open_sink("alsa:plughw:CARD=Device")


@no_sound_card_here
def test_open_sink_auto_falls_back_with_a_clear_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "fallback.wav"
    with caplog.at_level(logging.WARNING, logger="appliance.audio"):
        sink = open_sink("auto", sample_rate=RATE, block_size=BLOCK, wav_path=path)
    assert isinstance(sink, PacedSink) and sink.record == path
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "no sound card found" in warning and str(path) in warning
    for block in blocks(3):
        sink.write(block)
    sink.close()
    assert read_wav(path)[0].nframes == 3 * BLOCK
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="appliance.audio"):
        sink = open_sink("auto")
    assert isinstance(sink, PacedSink) and sink.record is None
    assert "no sound card found" in caplog.text
    sink.close()


def test_open_sink_specs(tmp_path: Path) -> None:
    sink = open_sink(f"wav:{tmp_path / 'a.wav'}", sample_format="S32_LE")
    assert isinstance(sink, WavSink) and sink.sample_format == "S32_LE"
    sink.close()
    sink = open_sink("paced", block_size=256, periods=3)
    assert isinstance(sink, PacedSink) and sink.buffer_blocks == 3 and sink.block_size == 256
    sink.close()
    for spec in ("pulse", "wav:", "paced:x"):
        with pytest.raises(AudioDeviceError, match=repr(spec)):
            open_sink(spec)


def test_list_alsa_devices_never_raises() -> None:
    devices = list_alsa_devices()
    assert isinstance(devices, list) and all(isinstance(d, str) for d in devices)


def test_proc_asound_cards_parsing(tmp_path: Path) -> None:
    cards = tmp_path / "cards"
    cards.write_text(
        " 0 [Headphones     ]: bcm2835_headpho - bcm2835 Headphones\n"
        "                      bcm2835 Headphones\n"
        " 1 [Device         ]: USB-Audio - USB Audio Device\n"
        "                      C-Media Electronics Inc. USB Audio Device at usb-xhci, full speed\n"
    )
    assert proc_asound_cards(cards) == [
        "card 0 [Headphones]: bcm2835_headpho - bcm2835 Headphones",
        "card 1 [Device]: USB-Audio - USB Audio Device",
    ]
    cards.write_text("--- no soundcards ---\n")
    assert proc_asound_cards(cards) == []
    assert proc_asound_cards(tmp_path / "missing") == []


# -- retrying ----------------------------------------------------------------------------------


def test_retrying_sink_keeps_pace_while_the_card_is_missing_then_recovers() -> None:
    """The "card" is ALSA (really failing here) twice, then a paced sink that works."""
    made: list[object] = []

    def make():
        sink = AlsaSink(MISSING_CARD, RATE, BLOCK) if len(made) < 3 else PacedSink(RATE, BLOCK)
        made.append(sink)
        return sink

    retries: list[tuple[AudioDeviceError, int, float]] = []
    recovered: list[float] = []
    sink = RetryingSink(
        make,
        on_retry=lambda exc, attempt, delay: retries.append((exc, attempt, delay)),
        on_recover=recovered.append,
        first_delay_s=0.05,
    )
    sink.open()  # fails (attempt 1) but does not raise
    assert not sink.is_up and "retrying" in sink.description
    one = blocks(1)[0]
    start = time.monotonic()
    for _ in range(40):  # 0.43 s of audio
        sink.write(one)
    took = time.monotonic() - start
    assert [r[1] for r in retries] == [1, 2, 3]
    assert [r[2] for r in retries] == pytest.approx([0.05, 0.1, 0.2])
    assert all(MISSING_CARD in str(r[0]) for r in retries)
    assert sink.is_up and len(recovered) == 1 and recovered[0] >= 0.3
    assert isinstance(sink.sink, PacedSink) and sink.sink.blocks_written > 0
    assert sink.dropped_blocks + sink.sink.blocks_written == 40
    # Down or up, the writer was paced in real time (less the paced sink's buffer).
    assert 40 * PERIOD_S - 0.1 <= took <= 40 * PERIOD_S + 0.3
    sink.close()


def test_backoff_doubles_to_eight_seconds() -> None:
    from appliance.backoff import Backoff

    backoff = Backoff(0.5, 8.0)
    assert [backoff.next() for _ in range(7)] == [0.5, 1, 2, 4, 8, 8, 8]
    backoff.reset()
    assert backoff.next() == 0.5
    assert Backoff(1.0, 30.0).delay_after(6) == 30.0  # the camera's: 1, 2 ... 30 s
