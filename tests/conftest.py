"""Shared fixtures: the real model, the real demo media."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance import DEFAULT_MODEL, DEMO_MEDIA
from appliance.paths import use_numba_cache_dir

use_numba_cache_dir()  # the one rule scripts/*, run and doctor follow (appliance/paths.py)


@pytest.fixture(scope="session")
def media() -> Path:
    return DEMO_MEDIA


@pytest.fixture(scope="session")
def embedder():
    from appliance.vision.embedder import Embedder

    return Embedder(DEFAULT_MODEL, num_threads=2)
