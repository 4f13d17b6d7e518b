"""Every error the appliance raises on purpose, named for what went wrong.

Each carries a message meant for a person: what failed, which file, and how
to fix it. The CLI prints the message (no traceback) and exits non-zero.
"""


class SoundscapeError(Exception):
    """Base class: an error with a message for the user."""


class ModelError(SoundscapeError):
    """The TFLite model is missing, corrupt or not the expected network."""


class RuntimeMissingError(SoundscapeError):
    """No TFLite runtime (ai-edge-litert, tflite-runtime, TensorFlow) is installed."""


class ImageError(SoundscapeError):
    """An image could not be read or has an unusable shape."""


class CorpusError(SoundscapeError):
    """A reference corpus is missing, broken, or was built with another model."""


class MediaError(SoundscapeError):
    """An audio or video source could not be decoded (or has no audio track)."""


class ConfigError(SoundscapeError):
    """The configuration file has an unknown key, a wrong type or a bad value."""


class CameraError(SoundscapeError):
    """A camera could not be opened, or stopped delivering frames."""


class AudioDeviceError(SoundscapeError):
    """A sound card could not be opened or stopped accepting audio."""


class ControlsError(SoundscapeError):
    """Buttons could not be set up."""
