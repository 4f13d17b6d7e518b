"""Checks of what recognises and what plays: the TFLite runtime, the model, the corpora."""

from __future__ import annotations

import importlib.metadata
import os
import re
from collections.abc import Iterable
from pathlib import Path

from appliance import DEFAULT_MODEL, PROJECT_ROOT
from appliance.config import Config
from appliance.doctor.base import (
    INSTALLED_UNIT,
    MODEL_README,
    Check,
    as_service,
    ok,
    problem,
    readable_dir,
    user_name,
    venv_python,
)
from appliance.errors import SoundscapeError

_SHA_LINE = re.compile(r"^\W*sha256\W*[:=]\W*([0-9a-fA-F]{64})\b", re.MULTILINE)


# ------------------------------------------------------------- tflite, model
_RUNTIME_DISTRIBUTIONS = {
    "ai_edge_litert": ("ai-edge-litert",),
    "tflite_runtime": ("tflite-runtime",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-aarch64"),
}


def _version(distributions: Iterable[str]) -> str:
    for dist in distributions:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "version unknown"


def check_runtime() -> Check:
    """Which TFLite runtime imports (ai-edge-litert, tflite-runtime, TensorFlow) and its version."""
    from appliance.vision.runtime import find_interpreter_class

    try:
        runtime, _ = find_interpreter_class()
    except SoundscapeError as exc:
        return problem(
            "TFLite runtime", str(exc).split("; tried:")[0] + ": the image model cannot run",
            f"{venv_python()} -m pip install ai-edge-litert", fatal=True,
        )
    version = _version(_RUNTIME_DISTRIBUTIONS.get(runtime, (runtime,)))
    return ok("TFLite runtime", f"{runtime} {version}")


def published_model_sha256(readme: Path = MODEL_README) -> str | None:
    """The sha256 ``models/README.md`` publishes for the model (a ``sha256: <hex>`` line)."""
    try:
        text = readme.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = _SHA_LINE.search(text)
    return match.group(1).lower() if match else None


def check_model(config: Config) -> tuple[Check, str | None]:
    """The model file: exists, sha256 as published, loads with the Embedder.

    Returns the check and the model's sha256 (None when the model is unusable).
    """
    from appliance.corpus.model_id import model_sha256

    name = "model"
    path = config.model.resolved_path()
    rebuild = f"rebuild it with: {venv_python()} {PROJECT_ROOT}/scripts/build_model.py " \
              "(see models/README.md)"
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        fix = rebuild if path == DEFAULT_MODEL else \
            f'correct [model] path in the configuration (now "{config.model.path}"), or {rebuild}'
        return problem(name, f"model file {path} {what}: nothing can be recognised", fix,
                        fatal=True), None
    try:
        sha = model_sha256(path)
    except (SoundscapeError, OSError) as exc:
        return problem(name, f"model file {path} cannot be read ({exc})",
                        f"check its permissions, or {rebuild}", fatal=True), None
    try:
        from appliance.vision.embedder import Embedder

        embedder = Embedder(path, num_threads=1)
    except SoundscapeError as exc:
        return problem(name, exc.what, exc.fix or rebuild, fatal=True), None
    size_mb = path.stat().st_size / 1e6
    loaded = f"{path} ({size_mb:.0f} MB, sha256 {sha[:12]}…) loads with {embedder.runtime}"
    published = published_model_sha256()
    if published is None:
        return ok(name, f"{loaded}; {MODEL_README} publishes no sha256 to compare with"), sha
    if sha != published:
        return problem(
            name,
            f"{loaded}, but it is not the published model (sha256 {published[:12]}… in "
            f"{MODEL_README.name}): corpora built for the published model will not match",
            f"{rebuild}, or keep it and rebuild your corpora with it",
        ), sha
    return ok(name, f"{loaded}; matches models/README.md"), sha


# ----------------------------------------------------------------- corpora
def _corpus_fix(path: Path) -> str:
    return (f"rebuild it: soundscape corpus build SOURCE -o {path}, or take it out of "
            "[corpora] order in the configuration")


#: Folders the service cannot see (ProtectHome=yes, PrivateTmp=yes in the unit).
HIDDEN_FROM_SERVICE = (Path("/home"), Path("/root"), Path("/run/user"), Path("/tmp"),
                       Path("/var/tmp"))


def hidden_from_service(path: Path) -> bool:
    """Whether the installed service cannot read ``path`` (home folders, its own /tmp)."""
    resolved = Path(os.path.abspath(path))
    return any(resolved == h or h in resolved.parents for h in HIDDEN_FROM_SERVICE)


def _hidden_problem(what: str, path: Path) -> Check:
    return problem(
        what, f"{path} is in a folder the service cannot see (home folders and /tmp are "
        "hidden from it)",
        f"move it to /var/lib/soundscape/corpora: sudo mv {path} /var/lib/soundscape/corpora/",
    )


def check_corpora(config: Config, model_sha: str | None) -> list[Check]:
    """Each configured corpus resolves and loads with the model's sha256."""
    from appliance.app import resolve_corpora
    from appliance.corpus import load_corpus
    from appliance.corpus.library import cache_dir, demo_manifests, is_fresh
    from appliance.errors import CorpusError

    demos = demo_manifests()
    checks: list[Check] = []
    built = cache_dir()
    if not readable_dir(built):
        return [problem(
            "corpora", f"{built} cannot be read by {user_name()}, so the corpora cannot be checked",
            "check as root, which sees what the service sees: sudo soundscape doctor",
        )]
    service = INSTALLED_UNIT.is_file()
    resolved = resolve_corpora(config)
    if config.corpora.dir:
        user_dir = Path(config.corpora.dir).expanduser()
        if service and hidden_from_service(user_dir):
            checks.append(_hidden_problem("corpora folder", user_dir))
        if resolved.missing_dir is not None:
            checks.append(problem(
                "corpora folder", f"[corpora] dir = {user_dir} does not exist",
                f"create it (sudo mkdir -p {user_dir}) and copy your corpora into it, "
                'or set dir = "" in the configuration',
            ))
    usable: list[str] = []
    unbuilt: list[str] = []
    for ref in resolved.refs:
        label, path = ref.label, ref.path
        if ref.demo:
            if model_sha is not None and is_fresh(path, demos[ref.name], model_sha):
                try:
                    load_corpus(path, model_sha256=model_sha)
                    usable.append(label)
                    continue
                except CorpusError:
                    pass
            unbuilt.append(label)
            continue
        if service and hidden_from_service(path):
            checks.append(_hidden_problem(f"corpus {label}", path))
            continue
        try:
            load_corpus(path, model_sha256=model_sha)
            usable.append(label)
        except CorpusError as exc:
            detail, fix = exc.what, exc.fix or _corpus_fix(path)
            if "soundscape corpus build" in fix and "take it out" not in fix:
                fix = f"{fix} (or take it out of [corpora] order in the configuration)"
            checks.append(problem(f"corpus {label}", detail, fix))
    if unbuilt:
        if model_sha is None:
            checks.append(problem(
                "demo corpora", f"{', '.join(unbuilt)} cannot be built without the model",
                "fix the model first",
            ))
        else:
            build = as_service(
                f"{venv_python()} -c 'from appliance.corpus import ensure_demo_corpora; "
                "from appliance.vision.embedder import Embedder; "
                "ensure_demo_corpora(Embedder())'"
            )
            checks.append(problem(
                "demo corpora",
                f"{', '.join(unbuilt)} not built yet in {cache_dir()}: the next start builds "
                "them first (a few minutes on a Pi 4, in silence)",
                f"build them now: {build}",
            ))
    will_play = len(usable) + (len(unbuilt) if model_sha is not None else 0)
    if will_play == 0 and model_sha is None:
        pass  # the model check already says the appliance cannot run
    elif will_play == 0:
        checks.insert(0, problem(
            "corpora", "no usable corpus: there is nothing to play",
            'fix the corpora below, or restore the default [corpora] order '
            '(woods_and_water, night, farm, harbour, world)',
            fatal=True,
        ))
    elif usable:
        checks.insert(0, ok("corpora", f"{len(usable)} ready: {', '.join(usable)}"))
    return checks
