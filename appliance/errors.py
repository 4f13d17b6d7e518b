"""Every error the appliance raises on purpose, one class per condition (as gpiozero's
``exc.py``), each carrying its fix as data.

``exc.what`` says what failed (which file, which key); ``exc.fix`` one line saying how
to fix it (empty when there is nothing to add). ``str(exc)`` is the sentence a person
reads: ``what``, then ``"; " + fix`` when the raiser gave a fix. The CLI prints it
(no traceback) and exits non-zero; ``soundscape doctor`` shows ``what`` and ``fix``
apart, and never parses the text.
"""

from __future__ import annotations


class SoundscapeError(Exception):
    """Base class: an error with a message for the user and, as data, its fix."""

    #: The fix for this condition when the raiser gives none (subclasses set it).
    default_fix: str = ""

    def __init__(self, what: str = "", fix: str | None = None) -> None:
        self.what = str(what)
        self.fix = self.default_fix if fix is None else str(fix)
        super().__init__(self.what if fix is None else f"{self.what}; {fix}")


class ModelError(SoundscapeError):
    """The TFLite model is missing, corrupt or not the expected network."""

    default_fix = "rebuild it with: python scripts/build_model.py (see models/README.md)"


class ModelMissingError(ModelError):
    """The model file does not exist or cannot be read."""


class ModelInvalidError(ModelError):
    """The model file loads as something else than the expected embedding network."""


class RuntimeMissingError(SoundscapeError):
    """No TFLite runtime (ai-edge-litert, tflite-runtime, TensorFlow) is installed."""

    default_fix = "pip install ai-edge-litert"


class ImageError(SoundscapeError):
    """An image could not be read or has an unusable shape."""


class CorpusError(SoundscapeError):
    """A reference corpus is missing, broken, or was built with another model."""


class CorpusMissingError(CorpusError):
    """No corpus where one was named (no folder, or a folder without a manifest)."""


class CorpusStaleError(CorpusError):
    """A corpus built for another model or another corpus format: rebuild it."""


class CorpusDamagedError(CorpusError):
    """A corpus whose files are unreadable, inconsistent or fail their checksums."""


class CorpusUnplayableError(CorpusError):
    """A corpus that loaded but that the synthesizer refused when it became current."""


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
