"""What a user can ask of the appliance, whichever control they used."""

from __future__ import annotations

from enum import Enum


class Action(Enum):
    NEXT_CORPUS = "next"
    PREVIOUS_CORPUS = "previous"
    VOLUME_UP = "volume_up"
    VOLUME_DOWN = "volume_down"
    TOGGLE_MUTE = "mute"
    CYCLE_SLEEP_TIMER = "timer"
    SHUTDOWN = "shutdown"
    QUIT = "quit"  # keyboard only: stop the program (not the machine)
