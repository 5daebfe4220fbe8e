"""The `business` lookup of data/nlu/entities.yml: every word normalised, also when typed in traditional characters.

RegexEntityExtractor matches the message as typed, so 包間 is found only if the lookup lists it; each word
must map to one contract value through a synonym, or the entity would carry the raw word.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from opencc import OpenCC

ENTITIES = Path(__file__).resolve().parents[2] / "data" / "nlu" / "entities.yml"
BUSINESSES = ("car_care", "menswear", "hotel", "restaurant")


def _items(block: dict[str, str]) -> list[str]:
    return [line.strip()[2:] for line in block["examples"].splitlines() if line.strip().startswith("- ")]


def _vocabulary() -> tuple[list[str], dict[str, list[str]]]:
    blocks = yaml.safe_load(ENTITIES.read_text(encoding="utf-8"))["nlu"]
    lookup = next(_items(b) for b in blocks if b.get("lookup") == "business")
    synonyms = {b["synonym"]: _items(b) for b in blocks if b.get("synonym") in BUSINESSES}
    return lookup, synonyms


def test_every_business_word_has_one_contract_value() -> None:
    lookup, synonyms = _vocabulary()
    values = {word: [value for value, words in synonyms.items() if word in words] for word in lookup}
    assert {word: found for word, found in values.items() if len(found) != 1} == {}


def test_the_traditional_form_of_every_business_word_is_listed_with_the_same_value() -> None:
    lookup, synonyms = _vocabulary()
    s2t = OpenCC("s2t")
    missing = [
        (word, s2t.convert(word), value)
        for value, words in synonyms.items()
        for word in words
        if s2t.convert(word) not in words or s2t.convert(word) not in lookup
    ]
    assert missing == []


def test_longer_words_come_first_so_the_alternation_prefers_them() -> None:
    lookup, _ = _vocabulary()
    assert [len(word) for word in lookup] == sorted((len(word) for word in lookup), reverse=True)
