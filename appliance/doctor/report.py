"""The doctor's answer: the printed report, the JSON object, the summary and what
``--speak`` says (and speaking it). Knows nothing about what was checked."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Iterable

from appliance.config import Config
from appliance.doctor.base import Check
from appliance.doctor.hardware import sound_card_present

#: ``soundscape doctor``'s exit codes: all is well; the appliance cannot run (a fatal
#: problem); it can run, but a problem was reported (2 is the CLI's own error code).
EXIT_ALL_WELL = 0
EXIT_CANNOT_RUN = 1
EXIT_PROBLEMS = 3


def can_run(checks: Iterable[Check]) -> bool:
    """True when no check found a fatal problem."""
    return not any(c.fatal and not c.ok for c in checks)


def exit_code(checks: Iterable[Check]) -> int:
    """0 only when every check is OK; 1 when the appliance cannot run; else 3."""
    checks = list(checks)
    if not can_run(checks):
        return EXIT_CANNOT_RUN
    return EXIT_PROBLEMS if any(not c.ok for c in checks) else EXIT_ALL_WELL


def as_json(checks: list[Check]) -> dict[str, object]:
    """The ``--json`` object: can_run, the exit code, the summary and every check."""
    return {
        "can_run": can_run(checks),
        "exit_code": exit_code(checks),
        "summary": summary(checks),
        "checks": [dataclasses.asdict(c) for c in checks],
    }


def summary(checks: list[Check]) -> str:
    """One sentence for the end of the report (and the first thing spoken)."""
    problems = [c for c in checks if not c.ok]
    fatal = [c.name for c in problems if c.fatal]
    names = ", ".join(c.name for c in problems)
    if fatal:
        return (f"The appliance cannot run: {', '.join(fatal)}. "
                f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in all: {names}.")
    if problems:
        return (f"The appliance can run, with {len(problems)} "
                f"problem{'s' if len(problems) != 1 else ''}: {names}.")
    return "Everything looks right: the appliance can run."


def format_report(checks: list[Check]) -> str:
    """The human report: one line per check, a fix line under each problem, the summary."""
    lines = []
    for c in checks:
        mark = "OK" if c.ok else "PROBLEM"
        lines.append(f"{mark:<8} {c.name}: {c.detail}")
        if not c.ok:
            lines.append(f"  fix: {c.fix}")
    lines.append(f"Summary: {summary(checks)}")
    return "\n".join(lines)


def spoken_text(checks: list[Check]) -> list[str]:
    """What ``--speak`` says: the summary, then each problem and its fix."""
    out = [summary(checks)]
    for c in checks:
        if not c.ok:
            out.append(f"Problem with {c.name}: {c.detail}. To fix: {c.fix}.")
    return out


def speak(sentences: list[str], config: Config) -> str:
    """Read ``sentences`` aloud with espeak-ng; returns "" or why it could not."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        return "not spoken: espeak-ng is not installed (sudo apt install espeak-ng)"
    if not sound_card_present():
        return "not spoken: there is no sound card to speak on"
    device = config.audio.device
    aplay = shutil.which("aplay")
    for sentence in sentences:
        try:
            if device.startswith("alsa:") and aplay is not None:
                wav = subprocess.run([espeak, "-s", "150", "--stdout", sentence],
                                     capture_output=True, timeout=120, check=True).stdout
                subprocess.run([aplay, "-q", "-D", device[5:]], input=wav,
                               capture_output=True, timeout=300, check=True)
            else:
                subprocess.run([espeak, "-s", "150", sentence], capture_output=True,
                               timeout=300, check=True)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"not spoken: espeak-ng failed ({exc})"
    return ""
