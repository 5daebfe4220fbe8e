"""Messages that carry nothing the assistant can read (pure Python, no rasa import).

"qwertyuiop", "asdfgh jkl": no Chinese, no number, and no Latin word the training data uses (pinyin,
abbreviations such as wifi / vip / ok, English greetings). A logistic regression still gives such a string
a confident intent, because its softmax spreads all probability over the known intents; the
LowInformationGuard component (bot/low_information_guard.py) routes these messages to nlu_fallback.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
ALNUM_TOKEN = re.compile(r"[a-z0-9]+")


def _folded(text: str) -> str:
    """Full-width letters and digits to ASCII, lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def latin_words(texts: Iterable[str]) -> set[str]:
    """Every all-letter Latin word in `texts` (the vocabulary a message may use without Chinese)."""
    return {token for text in texts for token in ALNUM_TOKEN.findall(_folded(text)) if token.isalpha()}


def is_low_information(text: str, known_words: Collection[str]) -> bool:
    """True for Latin-letter text with no Chinese, no digit (ids, phones, counts) and no known word.

    Text with no letters or digits at all (an emoji, "?") is left to the classifier: 👍 is a real answer.
    """
    folded = _folded(text)
    if CJK.search(folded):
        return False
    tokens = ALNUM_TOKEN.findall(folded)
    if not tokens:
        return False
    return all(token.isalpha() and token not in known_words for token in tokens)
