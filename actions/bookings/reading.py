"""Readers of free text for the booking forms: business, store, plate, party, name, and what a message asks.

Every reader looks at the whole message; the words come from policy/bookings.yml and policy/dialogue.yml.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from actions import datetimes
from actions.bookings.names import PLATE
from actions.forms import correction_tail, says_book
from actions.normalize import normalize_text, parse_count
from crm.schemas import StoreOut
from crm.services.bookings.policy import get_booking_policy, match_alias

# People counts said without being asked need a counting word: "一个包间" is no party of one.
_PARTY_SAID = re.compile(r"([0-9一二两三四五六七八九十百]{1,4})\s*[来多几]?\s*(?:个人|位|名|口人|人)")
_NAME_SAID = re.compile(
    r"(?:免贵)?姓\s*([\u4e00-\u9fff]{1,2}?)(?=$|[\s,，。!！]|先生|女士|小姐)|([\u4e00-\u9fff])(?:先生|女士|小姐)"
)
_MOBILE_OR_NUMBER = re.compile(r"(?:YY|DD|TS)?\d{7,}", re.IGNORECASE)
MANAGE_NUMBERS = re.compile(r"(?:YY|DD|TS)?\s*\d[\d\s\-]{9,}\d", re.IGNORECASE)
PARTY_ADDED = re.compile(r"(?:再|多)?(?:加|多)\s*([0-9一二两三四五六七八九十]{1,3})\s*(?:个人|位|名|人)")


def time_words(text: str) -> str:
    """The part of a message that can name a day or time: the correction's new value, without party sizes,
    plates and mobiles ("明天晚上七点 12个人" is 19:00, not 19:12)."""
    tail = correction_tail(text)
    for pattern in (_PARTY_SAID, _MOBILE_OR_NUMBER):
        tail = pattern.sub("，", tail)
    plate, _ = find_plate(tail)
    return tail.replace(plate, "，") if plate else tail


_CLAUSES = re.compile(r"[，,。；;！!？?\s]+")


def split_until(text: str, until_words: list[str]) -> tuple[str, str | None]:
    """(the message without its clause naming the end of a span, that clause): "明天入住，后天退房" ->
    ("明天入住", "后天退房"); (text, None) when no clause has one of `until_words`."""
    if not until_words:
        return text, None
    clauses = [clause for clause in _CLAUSES.split(text) if clause]
    until = next((clause for clause in clauses if any(word in clause for word in until_words)), None)
    if until is None:
        return text, None
    return "，".join(clause for clause in clauses if clause != until), until


def find_party_size(text: str) -> int | None:
    """'5个人' / '两位' anywhere in a message; None without a counting word."""
    match = _PARTY_SAID.search(text) or re.search(r"一家[二两三四五六七八九十]口", text)
    return parse_count(match.group(0)) if match else None


def find_name(text: str) -> str | None:
    """'姓李' / '免贵姓刘' / '杨先生' anywhere in a message -> the surname (with the title when given)."""
    match = _NAME_SAID.search(text)
    if match is None:
        return None
    if match.group(1):
        return match.group(1)
    return match.group(0)


def find_plate(text: str) -> tuple[str | None, bool]:
    """(plate, attempted): '贵A·12345' -> ('贵A12345', True); new-energy plates have 8 characters."""
    provinces = get_booking_policy().plate_provinces
    compact = re.sub(r"[\s·\-.]", "", normalize_text(text).upper())
    candidate = re.search(rf"[{provinces}][A-Z0-9]{{1,8}}", compact)
    if candidate is None:
        return None, False
    plate = candidate.group(0)
    body = r"[A-HJ-NP-Z0-9]"
    regular = re.fullmatch(rf"[{provinces}][A-Z]{body}{{5}}", plate)
    new_energy = re.fullmatch(rf"[{provinces}][A-Z](?:[DF]{body}\d{{4}}|\d{{5}}[DF])", plate)
    return (plate if regular or new_energy else None), True


def match_store(text: str, stores: list[StoreOut]) -> list[StoreOut]:
    """Stores named in `text` by an alias (bookings.yml), their district, or a city with one such store."""
    aliases = get_booking_policy().store_aliases
    matched = [
        store
        for store in stores
        if any(word in text for word in aliases.get(store.code, []))
        or store.district in text
        or (len(store.district) > 2 and store.district[:-1] in text)
    ]
    if matched:
        return matched
    by_city = [store for store in stores if store.city in text]
    return by_city if len({store.code for store in by_city}) == 1 else []


def find_business(text: str, entities: list[str]) -> str | None:
    """The business a message is about: a service it names, the business's own words, a detail only one
    business asks for (a car plate, "贵A36912 后天上午10点"), or the NLU entity.

    When the words of several businesses occur, the one with the highest `priority` in the data wins.
    """
    policy = get_booking_policy()
    for code, business in policy.businesses.items():
        if match_alias(text, business.services):
            return code
    named = [code for code, business in policy.businesses.items() if any(word in text for word in business.words)]
    if named:
        return max(named, key=lambda code: policy.business(code).priority)
    if find_plate(text)[0] is not None:
        asking = [code for code, business in policy.businesses.items() if PLATE in business.slots]
        if len(asking) == 1:
            return asking[0]
    return next((value for value in entities if policy.knows(value)), None)


def changeable_services() -> dict[str, list[str]]:
    """Words for the services a change request may name (a stay's room types), across such businesses."""
    policy = get_booking_policy()
    words: dict[str, list[str]] = {}
    for code, business in policy.businesses.items():
        if policy.kind_of(code).changes_service:
            words.update(business.services)
    return words


def names_a_visit(text: str, entities: list[dict[str, Any]], now: datetime) -> bool:
    """True when the message asks for a visit in other words than NLU's `book` examples: a business or service
    and a day or time ("明天下午4点花果园精洗 贵A99887") or a booking verb ("想定制一套西装")."""
    names_business = any(entity.get("entity") in ("business", "service") for entity in entities)
    if not names_business:
        return False
    folded = normalize_text(text)
    if says_book(folded):
        return True
    when = datetimes.parse_when(time_words(folded), now)
    return when.day is not None or when.clock is not None


def names_a_change(text: str, now: datetime) -> bool:
    """True when the message names a new day, time or party size ("改到五点吧", "再加一个人")."""
    folded = normalize_text(text)
    when = datetimes.parse_when(time_words(folded), now)
    return (
        when.day is not None
        or when.clock is not None
        or PARTY_ADDED.search(folded) is not None
        or find_party_size(folded) is not None
        or datetimes.parse_nights(folded) is not None
    )
