"""The ``soundscape`` command: a thin layer over the package's modules.

Errors the appliance raises on purpose (:class:`SoundscapeError`) are printed
as one message and exit code 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from appliance import DEFAULT_MODEL
from appliance.errors import SoundscapeError

Command = Callable[[argparse.Namespace], int]


def _cmd_demo(args: argparse.Namespace) -> int:
    from appliance.demo import run_demo

    return run_demo(args)


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="the main job on the embedded demo material (no camera or sound card needed)"
    )
    p.add_argument("--threads", type=int, default=2, help="TFLite threads (default 2)")
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="TFLite model file")
    p.set_defaults(func=_cmd_demo)


# Each later subsystem adds its own sub-command here.
_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_demo]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soundscape", description="Hear what a camera sees.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except SoundscapeError as exc:
        print(f"soundscape: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
