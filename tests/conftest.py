"""Shared fixtures: the real model, the real demo media."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from appliance import DEFAULT_MODEL, DEMO_MEDIA, PROJECT_ROOT

os.environ.setdefault("NUMBA_CACHE_DIR", str(PROJECT_ROOT / ".cache" / "numba"))


@pytest.fixture(scope="session")
def media() -> Path:
    return DEMO_MEDIA


@pytest.fixture(scope="session")
def embedder():
    from appliance.vision.embedder import Embedder

    return Embedder(DEFAULT_MODEL, num_threads=2)
