"""Regex and lookup-table entity extraction for the TF-IDF baseline (the patterns data/nlu gives Rasa)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class EntityPattern:
    entity: str
    pattern: re.Pattern[str]


def compile_patterns(
    regexes: Iterable[tuple[str, str]], lookups: Iterable[tuple[str, Iterable[str]]]
) -> list[EntityPattern]:
    """Regexes as written; a lookup table becomes one alternation, longest element first, like Rasa's."""
    patterns = [EntityPattern(name, re.compile(regex, re.IGNORECASE)) for name, regex in regexes]
    for name, elements in lookups:
        ordered = sorted(set(elements), key=lambda e: (-len(e), e))
        patterns.append(EntityPattern(name, re.compile("|".join(re.escape(e) for e in ordered), re.IGNORECASE)))
    return patterns


def extract_entities(
    text: str, patterns: Iterable[EntityPattern], synonyms: Mapping[str, str]
) -> list[tuple[str, str]]:
    """Every match of every pattern (as RegexEntityExtractor does), mapped through the synonyms."""
    found: list[tuple[str, str]] = []
    for item in patterns:
        for match in item.pattern.finditer(text):
            value = match.group(0)
            found.append((item.entity, synonyms.get(value, synonyms.get(value.lower(), value))))
    return found
