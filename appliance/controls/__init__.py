"""Controls: GPIO buttons (gpiozero) and the keyboard, both producing :class:`Action`."""

from appliance.controls.actions import Action

__all__ = ["Action"]
