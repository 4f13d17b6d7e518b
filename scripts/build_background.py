#!/usr/bin/env python3
"""Store the background photos' pooled vectors beside them (corpora/background/).

Every corpus carries the background (appliance/corpus/background.py). Its
photos are embedded once here, with the appliance's model, each with its
mirror image and closer look, and stored as ``vectors.npy`` (float16) with
``vectors.json`` (the model's sha256 and each photo's), so that no build
embeds them again. Run it after adding or removing a background photo, or
after changing the model; a build whose stored vectors do not match embeds
the photos itself and says so.

Usage: ``.venv/bin/python scripts/build_background.py``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance import DEFAULT_MODEL
from appliance.corpus import background
from appliance.vision.embedder import Embedder


def main() -> int:
    t0 = time.perf_counter()
    rows = background.write_vectors(Embedder(DEFAULT_MODEL, num_threads=2))
    print(f"{background.BACKGROUND_DIR}: {rows} rows "
          f"({len(background.photo_files())} photos × {len(background.VARIANTS)} variants) "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
