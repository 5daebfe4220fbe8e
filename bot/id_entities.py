"""Order, ticket and booking numbers and phone numbers however customers type them (pure Python).

"dd 2026 1127 0315", "ＤＤ２０２６１１２４０５１２", "DD-2026-1122-0077", "139 8501 2345" -> normalised values
(DD202611270315, 13985012345). Positions refer to the original text: full-width characters are folded one
character at a time (NFKC of a full-width letter or digit is one character), so spans stay aligned.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Between the characters of a number customers put spaces, hyphens or dots; never more than 2 in a row.
_SEP = r"[ \-.]{0,2}"
_DIGITS = lambda n: _SEP.join([r"\d"] * n)  # noqa: E731 - a tiny pattern builder
ID_PATTERNS: dict[str, re.Pattern[str]] = {
    name: re.compile(rf"(?<![a-z0-9])(?:{prefix}){_SEP}{_DIGITS(12)}(?![0-9])", re.IGNORECASE)
    for name, prefix in (
        ("order_id", "d" + _SEP + "d"),
        ("ticket_id", "t" + _SEP + "s"),
        ("booking_id", "y" + _SEP + "y"),
    )
}
PHONE_PATTERN = re.compile(rf"(?<![0-9a-z])1{_SEP}[3-9]{_SEP}{_DIGITS(9)}(?![0-9])", re.IGNORECASE)
ID_ENTITY_TYPES = (*ID_PATTERNS, "phone")


@dataclass(frozen=True)
class IdMatch:
    entity: str
    start: int
    end: int
    text: str
    value: str


def fold_width(text: str) -> str:
    """Full-width ASCII (ＤＤ２０, 全角空格) to half-width, one character for one character."""
    return "".join(folded if len(folded := unicodedata.normalize("NFKC", char)) == 1 else char for char in text)


def _canonical(text: str) -> str:
    return re.sub(r"[ \-.]", "", text).upper()


def find_ids(text: str) -> list[IdMatch]:
    """Every id and phone number in `text`, left to right, with normalised values."""
    folded = fold_width(text)
    matches: list[IdMatch] = []
    taken: list[tuple[int, int]] = []
    for entity, pattern in (*ID_PATTERNS.items(), ("phone", PHONE_PATTERN)):
        for match in pattern.finditer(folded):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            matches.append(IdMatch(entity, start, end, text[start:end], _canonical(match.group())))
    return sorted(matches, key=lambda m: m.start)
