"""Text normalisation shared by the NLU pipeline (rasa env) and the tests/benchmarks (app env).

Pure Python (unicodedata + OpenCC): importing this module must never import rasa.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from opencc import OpenCC


@lru_cache(maxsize=1)
def _t2s() -> OpenCC:
    return OpenCC("t2s")


def normalise_text(text: str) -> str:
    """Full-width -> half-width (NFKC) and traditional -> simplified characters; case and spacing are kept."""
    return _t2s().convert(unicodedata.normalize("NFKC", text))


def comparison_key(text: str) -> str:
    """A key under which two messages count as the same text: normalised, lower case, no spaces/punctuation/emoji."""
    return "".join(
        char for char in normalise_text(text).lower() if unicodedata.category(char)[0] not in {"P", "S", "Z", "C"}
    )
