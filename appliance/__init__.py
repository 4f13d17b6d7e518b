"""Soundscape appliance: hear what a camera sees.

The package imports anywhere: hardware libraries (picamera2, pyalsaaudio,
gpiozero, OpenCV) and heavy ones (Numba, the TFLite runtime) are imported
lazily, inside the functions that need them.
"""

from pathlib import Path

__version__ = "0.1.0"

#: Top of the source tree (the project is installed editable: models and demo
#: corpora live beside the package, not inside it).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = PROJECT_ROOT / "models"
DEFAULT_MODEL = MODELS_DIR / "resnet50_int8.tflite"
CORPORA_DIR = PROJECT_ROOT / "corpora"
DEMO_MEDIA = CORPORA_DIR / "media"
#: New views for the demo slideshow: photos that are no corpus' keyframes (corpora/views).
DEMO_VIEWS = CORPORA_DIR / "views"
