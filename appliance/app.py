"""Assembly: config → corpora, embedder, cues, sink, camera → :class:`Engine`.

Used by ``soundscape run``, ``soundscape render``, ``soundscape demo`` and the
benchmark; :func:`resolve_corpora` is also how ``soundscape doctor`` finds the
corpora it checks.
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
from appliance.engine import Engine, EngineSettings
from appliance.errors import CorpusError, SoundscapeError
from appliance.paths import cache_dir
from appliance.state import State, load_state
from appliance.synth import GrainParams
from appliance.synth.volume import full_volume_params
from appliance.vision.embedder import Embedder

log = logging.getLogger(__name__)


def default_state_path(config: Config) -> Path:
    if config.state.path:
        return Path(config.state.path)
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0]) / "state.json"
    return Path.home() / ".local" / "state" / "soundscape" / "state.json"


def make_embedder(config: Config) -> Embedder:
    return Embedder(config.model.path or DEFAULT_MODEL, num_threads=config.model.threads)


def make_settings(config: Config, seed: int | None = None) -> EngineSettings:
    """The engine's settings from ``config``: the synthesizer at full volume's loudness
    (``appliance.synth.volume``: the volume buttons scale down from there)."""
    s, v = config.synth, config.vision
    params = full_volume_params(GrainParams(
        grain_min_s=s.grain_min_ms / 1000,
        grain_max_s=s.grain_max_ms / 1000,
        grains_per_s=float(s.grains_per_s),
        pan_spread=s.pan_spread,
        p_smoothing_s=s.p_smoothing_s,
        crossfade_s=s.crossfade_s,
        level_balance=s.level_balance,
    ))
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
        change_threshold=v.change_threshold,
        settle_threshold=v.settle_threshold,
        refresh_s=v.refresh_s,
        still_smoothing_s=v.still_smoothing_s,
    )


@dataclass
class CorpusSet:
    """The corpora the buttons cycle through, and what could not be loaded (to be spoken)."""

    corpora: list[Corpus]
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CorpusRef:
    """One corpus the configuration asks for: its name there, and where it lives."""

    name: str  # as in [corpora] order, or a folder below [corpora] dir
    path: Path
    demo: bool  # one of the demo corpora (built on first use)

    @property
    def label(self) -> str:
        return Path(self.name).name


@dataclass(frozen=True)
class Resolved:
    """:func:`resolve_corpora`'s answer: the corpora in button order, and a missing
    ``[corpora] dir`` (None when it exists or none is set)."""

    refs: list[CorpusRef]
    missing_dir: Path | None = None


def resolve_corpora(config: Config, names: list[str] | None = None) -> Resolved:
    """The corpora ``config`` names (or ``names``), in button order: library names, then
    directories, then the sub-folders of ``[corpora] dir``. Loads nothing."""
    from appliance.corpus.library import demo_manifests

    known = library()
    demos = demo_manifests()
    wanted = list(names or config.corpora.order)
    missing = None
    if config.corpora.dir:
        user = Path(config.corpora.dir).expanduser()
        if user.is_dir():
            wanted += [str(p) for p in sorted(user.iterdir()) if p.is_dir()]
        else:
            missing = user
    refs = [
        CorpusRef(name, known.get(name, Path(name).expanduser()), name in demos)
        for name in wanted
    ]
    return Resolved(refs, missing)


def load_corpora(config: Config, embedder: Embedder, names: list[str] | None = None) -> CorpusSet:
    """Load the configured corpora (see :func:`resolve_corpora`), skipping broken ones."""
    from appliance.corpus.model_id import model_sha256

    sha = model_sha256(embedder.model_path)
    ensure_demo_corpora(embedder)
    resolved = resolve_corpora(config, names)
    if resolved.missing_dir is not None:
        log.warning("corpora.dir %s does not exist", resolved.missing_dir)
    out = CorpusSet([])
    for ref in resolved.refs:
        try:
            out.corpora.append(load_corpus(ref.path, model_sha256=sha))
        except CorpusError as exc:
            log.error("corpus %s skipped: %s", ref.name, exc)
            out.problems.append(f"The sound collection {ref.label} is broken and was skipped.")
    if not out.corpora:
        raise CorpusError("no usable corpus: " + "; ".join(out.problems or ["none configured"]))
    return out


def make_cues(sample_rate: int) -> CueBank:
    return CueBank(sample_rate, cache_dir=cache_dir() / "cues")


def power_off() -> None:
    """Power the box off (the long-hold button). Needs permission: the installer's polkit
    rule lets the service user run ``systemctl poweroff``."""
    import subprocess

    proc = subprocess.run(
        ["systemctl", "poweroff", "--no-wall"], capture_output=True, text=True, timeout=20
    )
    if proc.returncode != 0:
        raise SoundscapeError(f"systemctl poweroff failed: {proc.stderr.strip()}")


def build_engine(
    config: Config, sink_spec: str | None = None, camera_spec: str | None = None
) -> tuple[Engine, list[str]]:
    """Everything ``soundscape run`` starts, without starting it; and the problems to say
    (corpora that were skipped)."""
    from appliance import DEMO_VIEWS
    from appliance.audio.factory import open_sink
    from appliance.camera.factory import open_camera

    embedder = make_embedder(config)
    settings = make_settings(config)
    cues = make_cues(settings.sample_rate)
    corpus_set = load_corpora(config, embedder)
    state_path = default_state_path(config)
    state = load_state(state_path, defaults=State(volume=config.volume.initial))
    sink = open_sink(
        sink_spec or config.audio.device,
        sample_rate=settings.sample_rate,
        block_size=settings.block_size,
        periods=config.audio.periods,
        sample_format=settings.sample_format,
        # Under systemd nobody would listen to a file: discard instead of filling the disk.
        wav_path=None
        if os.environ.get("INVOCATION_ID")
        else Path("soundscape-output.wav").resolve(),
        on_retry=lambda exc, attempt, delay: log.warning(
            "sound output unavailable (%s); retry %d in %.1f s", exc, attempt, delay
        ),
    )
    spec = camera_spec or config.camera.source

    def opener():
        return open_camera(
            spec,
            size=(config.camera.width, config.camera.height),
            fps=config.camera.fps,
            slideshow_seconds=config.camera.slideshow_seconds,
            fallback_folder=DEMO_VIEWS,
        )

    engine = Engine(
        settings,
        corpus_set.corpora,
        embedder,
        sink,
        cues,
        camera_opener=opener,
        state=state,
        state_path=state_path,
        on_shutdown=power_off if config.buttons.shutdown_hold_s > 0 else None,
    )
    return engine, corpus_set.problems
