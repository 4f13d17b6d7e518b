"""What must hold on the box's own CPU (aarch64), checked in process so that
``scripts/test-aarch64`` can run it under QEMU user mode (no child processes there).

Every test here is marked ``arm`` and also runs in the normal suite. Bit-identity with
x86-64: each test hands the bytes it produced to :func:`same_as_x86`. On the host,
``scripts/test-aarch64`` first runs these tests with ``SOUNDSCAPE_DIGESTS_RECORD=FILE``
(the SHA-256 of every output is written there), then under emulation with
``SOUNDSCAPE_DIGESTS_COMPARE=FILE``: an output whose digest differs fails the test, and
so does one the host run did not record. Without either variable the digests are not
compared (the behaviour checks still run).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_corpus_support import make_small_source

from appliance import DEMO_MEDIA, MODELS_DIR
from appliance.camera.simulated import SlideshowCamera
from appliance.config import Config
from appliance.corpus import Matcher, build_corpus, load_corpus, model_sha256
from appliance.corpus.fileformat import EMBEDDINGS
from appliance.errors import CorpusError
from appliance.synth import Granulator, Source
from appliance.vision.embedder import load_rgb

pytestmark = pytest.mark.arm

SR = 48000


def _host_figure(name: str, value: object) -> object | None:
    """Record ``value`` under ``name`` (host run); return the host's value (emulated run)."""
    record = os.environ.get("SOUNDSCAPE_DIGESTS_RECORD")
    compare = os.environ.get("SOUNDSCAPE_DIGESTS_COMPARE")
    if record:
        path = Path(record)
        known = json.loads(path.read_text()) if path.exists() else {}
        known[name] = value
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(known, indent=1, sort_keys=True))
        tmp.replace(path)
    if not compare:
        return None
    known = json.loads(Path(compare).read_text())
    assert name in known, f"the host run recorded nothing for {name!r} in {compare}"
    return known[name]


def same_as_x86(name: str, data: bytes) -> None:
    """Record (host) or compare (emulated) the SHA-256 of ``data`` under ``name``."""
    digest = hashlib.sha256(data).hexdigest()
    host = _host_figure(name, digest)
    if host is not None:
        assert digest == host, (
            f"{name}: {platform.machine()} gives sha256 {digest[:16]}..., "
            f"x86-64 gave {str(host)[:16]}..."
        )


def near_x86(name: str, values: np.ndarray, atol: float) -> None:
    """Like :func:`same_as_x86` for floats that numpy computes (its reductions and BLAS
    round differently on other CPUs and numpy versions): equal within ``atol``."""
    host = _host_figure(name, [float(v) for v in np.ravel(values)])
    if host is not None:
        np.testing.assert_allclose(np.ravel(values), np.asarray(host), rtol=0, atol=atol,
                                   err_msg=name)


@pytest.fixture(scope="module")
def embedder():
    from appliance.vision.embedder import Embedder

    return Embedder(num_threads=2)


def test_model_outputs_match_the_reference_and_x86(embedder) -> None:
    """The int8 features of the reference photos: the same input pixels as at build time,
    the build's int8-vs-float cosine, and the very same bytes as on x86-64."""
    ref = json.loads((MODELS_DIR / "reference.json").read_text())
    assert model_sha256(embedder.model_path) == ref["model_sha256"]
    outputs = []
    for photo in ref["photos"]:
        path = DEMO_MEDIA / photo["path"]
        prepared = embedder.prepare(load_rgb(path))
        assert hashlib.sha256(prepared.tobytes()).hexdigest() == photo["input_sha256"]
        q = embedder.embed_file(path)
        f = np.asarray(photo["embedding_float32"], dtype=np.float32)
        cos = float(q @ f / (np.linalg.norm(q) * np.linalg.norm(f)))
        assert abs(cos - photo["cosine_int8_vs_float"]) < 0.005, f"{path}: cosine {cos:.4f}"
        outputs.append(np.ascontiguousarray(q).tobytes())
    same_as_x86("embeddings of models/reference.json's photos", b"".join(outputs))


def test_synthesizer_output_for_a_seed() -> None:
    """Two seconds of grains from a source made of exact integers (the same on every CPU):
    sound, and the same samples and grain positions as x86-64."""
    rng = np.random.default_rng(1)
    pcm = rng.integers(-12000, 12000, size=(6 * SR, 2), dtype=np.int16)
    pcm[: 3 * SR] //= 4  # a quiet half and a loud half
    source = Source.from_audio(pcm.astype(np.float32) / 32767.0, SR)
    g = Granulator(seed=8)
    g.set_source(source, crossfade=False)
    out = np.zeros((g.block_size, 2), dtype=np.float32)
    blocks = []
    for _ in range(round(2.0 * SR / g.block_size)):
        g.render(out)
        blocks.append(out.copy())
    audio = np.concatenate(blocks)
    assert np.abs(audio).max() > 0.01, "the synthesizer was silent"
    assert np.isfinite(audio).all()
    same_as_x86("synthesizer, 2 s of integer noise, seed 8", audio.tobytes())
    same_as_x86("synthesizer grain starts, seed 8", g.recent_grain_starts().tobytes())


MEADOW = """\
name = "meadow"
spoken_name = "meadow"
description = "Two scenes, three photos: the lane's small corpus."
credits_file = "CREDITS.md"
credits_root = "media"

[[scene]]
name = "farm"
audio = ["media/farm/cow/cow_1.ogg"]
photos = ["media/farm/cow/cow.jpg", "media/farm/farm_hay_bales.jpg"]

[[scene]]
name = "harbour"
audio = ["media/harbour/harbour_dock_1.ogg"]
photos = ["media/harbour/harbour_city_quay.jpg"]
"""


@pytest.fixture(scope="module")
def meadow(tmp_path_factory, embedder) -> Path:
    """A three-photo corpus built here from the demo media (three model invocations: the
    photos alone, no variants, to keep the emulated run short)."""
    source = make_small_source(tmp_path_factory.mktemp("arm-source"), DEMO_MEDIA, MEADOW)
    out = tmp_path_factory.mktemp("arm-corpus") / "meadow"
    build_corpus(source, out, embedder, variants=("",))
    return out


def test_a_small_corpus_is_built_and_matched(meadow: Path, embedder) -> None:
    corpus = load_corpus(meadow, model_sha256(embedder.model_path))
    assert corpus.scene_names == ["farm", "harbour"]
    m = Matcher(corpus)
    cow_x = embedder.embed_file(DEMO_MEDIA / "farm/cow/cow.jpg")
    cow = m.distances(cow_x)
    quay = m.distances(embedder.embed_file(DEMO_MEDIA / "harbour/harbour_city_quay.jpg"))
    assert len(cow) == 3 and int(np.argmin(cow)) != int(np.argmin(quay))
    p = m.probabilities_from_distances(cow, m.known_confidence(cow_x, cow))
    assert m.scene_masses(p)["farm"] > 0.5
    same_as_x86("meadow corpus keyframe embeddings", (meadow / EMBEDDINGS).read_bytes())
    # The distances (about 1 apart from a photo's own keyframe, near 0) are numpy's float32
    # arithmetic: the same within 2e-4, not to the bit. Seen: Bookworm's numpy 1.24 on
    # OpenBLAS (aarch64) gives 0.009828 where numpy 2 on x86-64 gives 0.009889 for the
    # cow's own keyframe (|a|^2 + |b|^2 - 2 a.b cancels there); the others agree to 1e-6.
    near_x86("meadow corpus distances", np.concatenate([cow, quay]), atol=2e-4)


def test_a_damaged_corpus_is_refused_with_its_file(meadow: Path, embedder,
                                                    tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(meadow, broken)
    data = (broken / EMBEDDINGS).read_bytes()
    (broken / EMBEDDINGS).write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusError, match=EMBEDDINGS):
        load_corpus(broken, model_sha256(embedder.model_path))


def test_a_short_render_gives_the_same_wav_as_on_x86(tmp_path: Path) -> None:
    """``soundscape render`` of the cow photo for 2 s through the demo ``world`` corpus
    (whose files the host run built; the emulated run checks and reuses them)."""
    from appliance.commands import render

    camera = SlideshowCamera([DEMO_MEDIA / "farm/cow/cow.jpg"], seconds_per_image=10.0)
    result = render(Config.default(), camera, "world", 2.0, tmp_path / "cow.wav", 3)
    audio, rate = sf.read(result.wav, dtype="float32")
    assert rate == SR and audio.shape[0] >= 2 * SR and np.abs(audio).max() > 0.01
    assert result.scene_masses["farm"] > 0.5, result.scene_masses
    same_as_x86("render of cow.jpg through world, 2 s, seed 3", result.wav.read_bytes())
