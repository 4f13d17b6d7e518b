"""The README's hardware guide states the same default pins as the code."""

from __future__ import annotations

import re

from appliance import PROJECT_ROOT
from appliance.config import BUTTON_ROLES, DEFAULT_PINS

README = PROJECT_ROOT / "README.md"
START, END = "<!-- hardware-guide:start -->", "<!-- hardware-guide:end -->"
#: BCM GPIO number → physical pin on the 40-pin header (Pi 1 B+ to Pi 5).
HEADER_PIN = {2: 3, 3: 5, 4: 7, 17: 11, 27: 13, 22: 15, 10: 19, 9: 21, 11: 23, 5: 29, 6: 31,
              13: 33, 19: 35, 26: 37, 14: 8, 15: 10, 18: 12, 23: 16, 24: 18, 25: 22, 8: 24,
              7: 26, 12: 32, 16: 36, 20: 38, 21: 40}
GROUND_PINS = {6, 9, 14, 20, 25, 30, 34, 39}


def guide() -> str:
    text = README.read_text(encoding="utf-8")
    assert START in text and END in text, "the hardware-guide markers are missing"
    return text[text.index(START) + len(START): text.index(END)]


def test_readme_pins_match_default_pins() -> None:
    rows = {}
    for line in guide().splitlines():
        match = re.match(r"\|\s*`(\w+)`\s*\|.*\|\s*GPIO(\d+)\s*\|\s*(\d+)\s*\|\s*$", line)
        if match:
            rows[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    assert set(rows) == set(BUTTON_ROLES)
    for role, pin in DEFAULT_PINS.items():
        assert rows[role] == (pin, HEADER_PIN[pin]), role


def test_readme_ground_pins_are_ground() -> None:
    match = re.search(r"Ground pins near them: header pins ([\d, and]+)", guide())
    assert match
    named = {int(n) for n in re.findall(r"\d+", match.group(1))}
    assert named and named <= GROUND_PINS


def test_readme_mentions_the_wiring_and_the_tools() -> None:
    text = guide()
    for words in ("pull-up", "ground", "aplay -l", "plughw:", "/var/lib/soundscape/corpora",
                  "scripts/install-pi", "soundscape doctor", "DEFAULT_PINS"):
        assert words in text, words
