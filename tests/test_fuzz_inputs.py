"""Fuzzing the files a box reads: only "it plays" or "the project's error, one line".

A real corpus (two scenes, four photos, built with the real model), a config file
and a state file are damaged in many ways per run, with a fixed seed: the named
mutations of ``scripts/fuzz_inputs.py`` (truncations, deletions, bit flips in every
file, hostile numbers in every numeric field, ``.npy`` headers, nesting, arrays
out of range with their checksum fixed) and Hypothesis' own bit flips and values.
Every case must be refused with a one-line :class:`SoundscapeError`, or load and
then render a second of finite, audible sound (settings in range, for config and
state). The same harness prints the issue-12 matrix (``scripts/fuzz_inputs.py``).
"""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance import PROJECT_ROOT

_spec = importlib.util.spec_from_file_location("fuzz_inputs",
                                               PROJECT_ROOT / "scripts" / "fuzz_inputs.py")
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)

OK = ("refused", "plays")
FUZZ = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def built(tmp_path_factory, embedder) -> Path:
    return fuzz.build_small_corpus(tmp_path_factory.mktemp("fuzz"), embedder)


@pytest.fixture(scope="module")
def embedding(embedder):
    from appliance.vision.images import load_rgb

    return embedder.embed_full(load_rgb(PROJECT_ROOT / "corpora/media/farm/cow/cow.jpg"))


def _copy(built: Path, tmp: Path) -> Path:
    case = tmp / "case"
    if case.exists():
        shutil.rmtree(case)
    shutil.copytree(built, case)
    return case


def test_the_built_corpus_plays(built: Path, embedding) -> None:
    assert fuzz.corpus_plays(built, embedding) == "plays"


def test_every_named_corpus_mutation_plays_or_is_refused(built: Path, embedding,
                                                         tmp_path: Path) -> None:
    outcomes: dict[str, str] = {}
    for label, mutate in fuzz.corpus_mutations(built, random.Random(12), 1):
        case = _copy(built, tmp_path)
        mutate(case)
        outcomes[label] = fuzz.corpus_plays(case, embedding)
    bad = {k: v for k, v in outcomes.items() if v not in OK}
    assert not bad, bad
    assert len(outcomes) > 150
    # The cases issue 12 found, each refused at load rather than failing as it plays.
    issue = [k for k in outcomes if k.startswith("issue 12:")]
    for label in ["sample_rate 8000, other fields consistent", "scales all 3e+38 (checksum fixed)",
                  "manifest nested 100000 deep", "embeddings.npy header shape (1000000000, 2048)",
                  *issue]:
        assert outcomes[label] == "refused", label
    assert len(issue) == 9


@FUZZ
@given(data=st.data())
def test_random_damage_to_a_corpus_plays_or_is_refused(built: Path, embedding, tmp_path: Path,
                                                       data) -> None:
    case = _copy(built, tmp_path)
    files = sorted(p.name for p in case.iterdir())
    name = data.draw(st.sampled_from(files))
    raw = bytearray((case / name).read_bytes())
    how = data.draw(st.sampled_from(["flip", "truncate", "value"]))
    if how == "flip":
        for pos in data.draw(st.lists(st.integers(0, len(raw) * 8 - 1), min_size=1, max_size=8)):
            raw[pos // 8] ^= 1 << (pos % 8)
        (case / name).write_bytes(bytes(raw))
    elif how == "truncate":
        (case / name).write_bytes(bytes(raw[: data.draw(st.integers(0, len(raw) - 1))]))
    else:
        m = json.loads((case / "corpus.json").read_text())
        path = data.draw(st.sampled_from(fuzz._numeric_paths(m)))
        value = data.draw(st.one_of(
            st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**30), 10**30),
            st.sampled_from(fuzz.RAW_VALUES[:-1]).map(lambda r: fuzz.RawValue(r))))
        fuzz._set_path(m, path, "@@RAW@@")
        text = value.text if isinstance(value, fuzz.RawValue) else json.dumps(value)
        (case / "corpus.json").write_text(fuzz._raw_json(m, {"@@RAW@@": text}))
    assert fuzz.corpus_plays(case, embedding) in OK


def test_named_config_and_state_cases(tmp_path: Path) -> None:
    rng = random.Random(12)
    for label, data in fuzz.config_texts(rng, 4):
        path = tmp_path / "config.toml"
        path.unlink(missing_ok=True)
        fuzz._write_case(path, data)
        assert fuzz.config_plays(path) in OK, label
    for label, data in fuzz.state_texts(rng, 4):
        path = tmp_path / "state.json"
        path.unlink(missing_ok=True)
        fuzz._write_case(path, data)
        assert fuzz.state_plays(path) == "plays", label  # a state file never stops the box


EXAMPLE = (PROJECT_ROOT / "config.example.toml").read_bytes()


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, len(EXAMPLE) - 1), st.integers(0, 255)),
                      min_size=1, max_size=12),
       cut=st.integers(0, len(EXAMPLE)))
def test_random_damage_to_a_config_plays_or_is_refused(tmp_path: Path, edits, cut) -> None:
    data = bytearray(EXAMPLE)
    for pos, byte in edits:
        data[pos] = byte
    path = tmp_path / "config.toml"
    path.write_bytes(bytes(data[:cut]))
    assert fuzz.config_plays(path) in OK


@FUZZ
@given(value=st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["corpus", "volume", "muted", "timer_min", "version", "x"]), inner,
        max_size=5), max_leaves=20))
def test_any_json_as_state_gives_values_in_range(tmp_path: Path, value) -> None:
    path = tmp_path / "state.json"
    path.write_text(json.dumps(value))
    assert fuzz.state_plays(path) == "plays"
