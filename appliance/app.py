"""Assembly: config → corpora, embedder, cues, sink, camera → :class:`Engine`.

Used by ``soundscape run``, ``soundscape render`` and ``soundscape demo``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from appliance import DEFAULT_MODEL
from appliance.config import Config
from appliance.corpus import Corpus, ensure_demo_corpora, library, load_corpus
from appliance.cues import CueBank
from appliance.engine import EngineSettings
from appliance.errors import CorpusError
from appliance.synth import GrainParams
from appliance.vision.embedder import Embedder

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Writable cache: $SOUNDSCAPE_CACHE, systemd's $CACHE_DIRECTORY, or ~/.cache/soundscape."""
    for var in ("SOUNDSCAPE_CACHE", "CACHE_DIRECTORY"):
        if os.environ.get(var):
            return Path(os.environ[var].split(":")[0])
    return Path.home() / ".cache" / "soundscape"


def default_state_path(config: Config) -> Path:
    if config.state.path:
        return Path(config.state.path)
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0]) / "state.json"
    return Path.home() / ".local" / "state" / "soundscape" / "state.json"


def make_embedder(config: Config) -> Embedder:
    return Embedder(config.model.path or DEFAULT_MODEL, num_threads=config.model.threads)


def make_settings(config: Config, seed: int | None = None) -> EngineSettings:
    s = config.synth
    params = GrainParams(
        grain_min_s=s.grain_min_ms / 1000,
        grain_max_s=s.grain_max_ms / 1000,
        grains_per_s=float(s.grains_per_s),
        pan_spread=s.pan_spread,
        p_smoothing_s=s.p_smoothing_s,
        crossfade_s=s.crossfade_s,
        level_balance=s.level_balance,
    )
    params.validate()
    chosen = s.seed if seed is None else seed
    if chosen == 0 and seed is None:
        chosen = int.from_bytes(os.urandom(4), "little") or 1
    return EngineSettings(
        sample_rate=config.audio.sample_rate,
        block_size=config.audio.block_size,
        sample_format=config.audio.sample_format,
        vision_fps=config.camera.fps,
        volume_step=config.volume.step,
        timer_choices_min=tuple(config.timer.choices_min),
        timer_fade_s=config.timer.fade_s,
        seed=chosen,
        pan_width=s.pan_from_camera,
        params=params,
    )


@dataclass
class CorpusSet:
    """The corpora the buttons cycle through, and what could not be loaded (to be spoken)."""

    corpora: list[Corpus]
    problems: list[str] = field(default_factory=list)


def load_corpora(config: Config, embedder: Embedder, names: list[str] | None = None) -> CorpusSet:
    """Resolve the configured corpora (library names or directories), skipping broken ones."""
    from appliance.corpus.model_id import model_sha256

    sha = model_sha256(embedder.model_path)
    ensure_demo_corpora(embedder)
    known = library()
    wanted = list(names or config.corpora.order)
    if config.corpora.dir:
        user = Path(config.corpora.dir)
        if user.is_dir():
            wanted += [str(p) for p in sorted(user.iterdir()) if p.is_dir()]
        else:
            log.warning("corpora.dir %s does not exist", user)
    out = CorpusSet([])
    for name in wanted:
        path = known.get(name, Path(name))
        try:
            out.corpora.append(load_corpus(path, model_sha256=sha))
        except CorpusError as exc:
            log.error("corpus %s skipped: %s", name, exc)
            out.problems.append(
                f"The sound collection {Path(name).name} is broken and was skipped."
            )
    if not out.corpora:
        raise CorpusError("no usable corpus: " + "; ".join(out.problems or ["none configured"]))
    return out


def make_cues(sample_rate: int) -> CueBank:
    return CueBank(sample_rate, cache_dir=cache_dir() / "cues")
