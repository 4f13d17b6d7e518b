"""The ``soundscape`` command: a thin layer over the package's modules.

Errors the appliance raises on purpose (:class:`SoundscapeError`) are printed
as one message and exit code 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from appliance.commands import add_commands as add_run_commands
from appliance.corpus.cli import add_commands as add_corpus_commands
from appliance.doctor import add_commands as add_doctor_commands
from appliance.errors import SoundscapeError
from appliance.paths import use_numba_cache_dir

# Each subsystem adds its own sub-commands.
_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_run_commands,
    add_corpus_commands,
    add_doctor_commands,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="soundscape", description="Hear what a camera sees.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    use_numba_cache_dir()  # before Numba is imported: the same folder as scripts/* use
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
