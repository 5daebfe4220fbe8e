"""The words customers use for the CRM's stores and services, and the CRM codes they stand for.

Pure Python (no rasa, no SQLAlchemy): stack/nlu_entities.py builds the vocabulary from the CRM database
(or the seed data) before training, and bot/crm_entity_extractor.py turns it into a spaCy entity ruler.

Vocabulary file (JSON):
  stores:          {code: {"business": ..., "city": ...}}
  store_phrases:   {phrase: [store codes]}    landmark (from the store name), full name, district
  services:        {code: business}
  service_phrases: {phrase: service code}     CRM name, its short form, the booking words of bookings.yml
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# "悦享男装（贵阳花果园旗舰店）" -> "贵阳花果园旗舰店"
_PARENTHESIS = re.compile(r"[（(]([^）)]+)[）)]")
_STORE_SUFFIXES = ("旗舰店", "店")
_DISTRICT_SUFFIX = "区"


def landmark_of(name: str, city: str) -> str | None:
    """The place part of a store name: 悦享男装（贵阳花果园旗舰店） -> 花果园."""
    match = _PARENTHESIS.search(name)
    if not match:
        return None
    place = match.group(1).removeprefix(city)
    for suffix in _STORE_SUFFIXES:
        if place.endswith(suffix):
            place = place[: -len(suffix)]
            break
    return place or None


def short_service_name(name: str) -> str:
    """小保养（机油 + 机滤） -> 小保养; 精致洗车（精洗） -> 精致洗车."""
    return _PARENTHESIS.sub("", name).strip()


def build_vocabulary(
    stores: Iterable[Mapping[str, Any]],
    services: Iterable[Mapping[str, Any]],
    booking_words: Mapping[str, Mapping[str, Iterable[str]]],
) -> dict[str, Any]:
    """stores: code, business, name, city, district; services: code, business, name;
    booking_words: {business: {service code: [words]}} (bookings.yml's services/rooms)."""
    store_info: dict[str, dict[str, str]] = {}
    store_phrases: dict[str, list[str]] = {}

    def add_store_phrase(phrase: str | None, code: str) -> None:
        if phrase and len(phrase) >= 2:
            codes = store_phrases.setdefault(phrase, [])
            if code not in codes:
                codes.append(code)

    for store in stores:
        code, city = str(store["code"]), str(store["city"])
        store_info[code] = {"business": str(store["business"]), "city": city}
        add_store_phrase(str(store["name"]), code)
        landmark = landmark_of(str(store["name"]), city)
        add_store_phrase(landmark, code)
        district = str(store["district"])
        add_store_phrase(district, code)
        add_store_phrase(district.removesuffix(_DISTRICT_SUFFIX), code)
    service_info: dict[str, str] = {}
    service_phrases: dict[str, str] = {}
    for service in services:
        code = str(service["code"])
        service_info[code] = str(service["business"])
        for phrase in (str(service["name"]), short_service_name(str(service["name"]))):
            service_phrases.setdefault(phrase, code)
    for words in booking_words.values():
        for code, phrases in words.items():
            for phrase in phrases:
                service_phrases.setdefault(str(phrase), str(code))
    return {
        "stores": dict(sorted(store_info.items())),
        "store_phrases": {p: sorted(c) for p, c in sorted(store_phrases.items())},
        "services": dict(sorted(service_info.items())),
        "service_phrases": dict(sorted(service_phrases.items())),
    }


def booking_words_from_policy(policy: Mapping[str, Any]) -> dict[str, dict[str, list[str]]]:
    """bookings.yml -> {business: {code: [words]}} (restaurants list areas, not words: they add nothing)."""
    words: dict[str, dict[str, list[str]]] = {}
    for business, config in (policy.get("businesses") or {}).items():
        merged: dict[str, list[str]] = {}
        for key in ("services", "rooms"):
            section = config.get(key)
            if isinstance(section, Mapping):
                merged.update({str(code): [str(w) for w in ws] for code, ws in section.items()})
        words[str(business)] = merged
    return words
