"""``soundscape doctor``: what is wrong with this box, in words, with how to fix each thing.

Meant for the person who built the box, or a helper on the phone with a
blind user: one command lists every check as ``OK`` or ``PROBLEM``, each
problem followed by a line saying how to fix it, then a summary. ``--speak``
reads the summary and each problem aloud with espeak-ng; ``--json`` prints one
JSON object instead.

The checks, by subject: :mod:`~appliance.doctor.hardware` (camera, sound
card, GPIO buttons, speech), :mod:`~appliance.doctor.model` (TFLite runtime,
model, corpora), :mod:`~appliance.doctor.service` (configuration, service,
Numba cache). :mod:`~appliance.doctor.report` turns them into the report and
the speech; :mod:`~appliance.doctor.unit` reads the systemd unit.

Missing hardware is a problem but not *fatal*: the appliance has a fallback
for each. Fatal problems are the ones that stop ``soundscape run``: an
unreadable configuration, no TFLite runtime, a missing or broken model, no
usable corpus, no place for Numba's cache.

Every check catches its own errors: the doctor itself never crashes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from appliance.config import DEFAULT_CONFIG_PATH, Config
from appliance.doctor.base import INSTALLED_UNIT, Check, guarded, ok, problem
from appliance.doctor.hardware import (
    check_camera,
    check_gpio,
    check_sound,
    check_speech,
    sound_card_present,
)
from appliance.doctor.model import (
    check_corpora,
    check_model,
    check_runtime,
    hidden_from_service,
    published_model_sha256,
)
from appliance.doctor.report import (
    EXIT_ALL_WELL,
    EXIT_CANNOT_RUN,
    EXIT_PROBLEMS,
    as_json,
    can_run,
    exit_code,
    format_report,
    speak,
    spoken_text,
    summary,
)
from appliance.doctor.service import (
    adopt_service_environment,
    check_config,
    check_numba_cache,
    check_service,
    systemd_running,
)
from appliance.doctor.unit import service_environment, unit_groups
from appliance.paths import use_numba_cache_dir

log = logging.getLogger(__name__)

__all__ = [
    "Check",
    "add_commands",
    "can_run",
    "check_camera",
    "check_config",
    "check_corpora",
    "check_gpio",
    "check_model",
    "check_numba_cache",
    "check_runtime",
    "check_service",
    "check_sound",
    "check_speech",
    "cmd_doctor",
    "exit_code",
    "format_report",
    "hidden_from_service",
    "main",
    "ok",
    "problem",
    "published_model_sha256",
    "run_checks",
    "service_environment",
    "sound_card_present",
    "speak",
    "spoken_text",
    "summary",
    "systemd_running",
    "unit_groups",
]


def run_checks(
    config: Config | None = None,
    *,
    config_path: Path | None = None,
    model_path: Path | None = None,
) -> list[Check]:
    """Every check, in report order.

    ``config``: an already loaded configuration (checked as given); when None
    it is loaded from ``config_path`` (default: the system file, whose
    absence means all defaults) and a broken file is a fatal problem, the
    other checks then running with the defaults. ``model_path`` overrides
    ``[model] path``.
    """
    checks: list[Check] = []
    if config is None:
        config_check, config = check_config(config_path)
        checks.append(config_check)
    else:
        checks.append(ok("configuration", "given by the caller"))
    if model_path is not None:
        model = dataclasses.replace(config.model, path=str(model_path))
        config = dataclasses.replace(config, model=model)
    cfg = config
    checks += guarded("service", check_service)
    checks += guarded("camera", lambda: check_camera(cfg))
    checks += guarded("sound card", lambda: check_sound(cfg))
    checks += guarded("GPIO buttons", lambda: check_gpio(cfg))
    checks += guarded("speech", check_speech)
    checks += guarded("TFLite runtime", check_runtime)
    found: list[str | None] = [None]

    def model() -> Check:
        check, found[0] = check_model(cfg)
        return check

    checks += guarded("model", model)
    checks += guarded("corpora", lambda: check_corpora(cfg, found[0]))
    checks += guarded("Numba cache", check_numba_cache)
    return checks


def cmd_doctor(args: argparse.Namespace) -> int:
    """``soundscape doctor``: print (and optionally speak) the report; the exit code is
    :func:`~appliance.doctor.report.exit_code`'s (0 only when all is well)."""
    adopted = adopt_service_environment()
    checks = run_checks(config_path=args.config, model_path=args.model)
    if args.json:
        print(json.dumps(as_json(checks), indent=2, ensure_ascii=False))
    else:
        if adopted:
            print(f"(checking with the service's settings from {INSTALLED_UNIT})")
        print(format_report(checks))
    if args.speak:
        _, config = check_config(args.config)
        note = speak(spoken_text(checks), config)
        if note:
            print(note, file=sys.stderr)
    return exit_code(checks)


_DESCRIPTION = (
    "Checks everything the appliance needs and prints one line per check, with how to fix "
    "each problem. "
    f"Exit code {EXIT_ALL_WELL} only when all is well; {EXIT_CANNOT_RUN} when the appliance "
    f"cannot run; {EXIT_PROBLEMS} when it can run but a problem was reported."
)


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``doctor`` on the CLI's sub-parsers."""
    p = sub.add_parser(
        "doctor",
        help="check camera, sound card, buttons, model, corpora and service; say how to fix",
        description=_DESCRIPTION,
    )
    _add_arguments(p)


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path,
                   help=f"configuration file (default {DEFAULT_CONFIG_PATH}, if it exists)")
    p.add_argument("--model", type=Path, help="TFLite model file, overrides [model] path")
    p.add_argument("--json", action="store_true", help="print one JSON object instead")
    p.add_argument("--speak", action="store_true",
                   help="read the summary and each problem aloud (espeak-ng)")
    p.set_defaults(func=cmd_doctor)


def main(argv: list[str] | None = None) -> int:
    """``python -m appliance.doctor``: the same command without the ``soundscape`` front end."""
    parser = argparse.ArgumentParser(prog="python -m appliance.doctor", description=_DESCRIPTION)
    _add_arguments(parser)
    args = parser.parse_args(argv)
    use_numba_cache_dir()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return cmd_doctor(args)


if __name__ == "__main__":
    raise SystemExit(main())
