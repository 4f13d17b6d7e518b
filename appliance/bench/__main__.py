"""Run every benchmark section; the last line printed is one JSON object."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback

# Sections in the order they run; each adds its keys to the final JSON object.
SECTIONS = ("vision", "synth", "match", "devset", "level", "rest", "live")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--only", nargs="*", choices=SECTIONS, help="run only these sections")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    args = parser.parse_args(argv)
    report: dict[str, object] = {}
    failed = []
    for name in args.only or SECTIONS:
        try:
            module = importlib.import_module(f"appliance.bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"appliance.bench.{name}":
                print(f"[{name}] not written yet, skipped", flush=True)
                continue
            raise
        print(f"== {name} ==", flush=True)
        try:
            report.update(module.run(quick=args.quick))
        except Exception:  # a broken section must not hide the others' figures
            traceback.print_exc()
            failed.append(name)
    report["failed_sections"] = failed
    print(json.dumps(report, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
