"""Reference corpora: their on-disk format, the builder, the demo library and matching.

Public API::

    Corpus, load_corpus(path, model_sha256=None)        # fileformat.py
    build_corpus(source, out_dir, embedder, ...)        # builder.py
    library(), resolve_corpus(name_or_dir), ensure_demo_corpora(embedder)   # library.py
    Matcher(corpus): .probabilities(x), .distances(x), .scene_masses(p),
                     .segment_masses(p), .uniform()     # matcher.py
    model_sha256(path)                                  # model_id.py

The format and the manifest layout are described in ``corpora/README.md``.
"""

from appliance.corpus.builder import build_corpus
from appliance.corpus.fileformat import Corpus, load_corpus
from appliance.corpus.library import ensure_demo_corpora, library, resolve_corpus
from appliance.corpus.matcher import Matcher
from appliance.corpus.model_id import model_sha256

__all__ = [
    "Corpus",
    "Matcher",
    "build_corpus",
    "ensure_demo_corpora",
    "library",
    "load_corpus",
    "model_sha256",
    "resolve_corpus",
]
