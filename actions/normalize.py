"""Turns what customers type into canonical values: full-width digits, spaced numbers, Chinese numerals."""

from __future__ import annotations

import re
import unicodedata

import cn2an

from crm.numbers import BOOKING_PREFIX, MOBILE_RE, ORDER_PREFIX, TICKET_PREFIX

_SEPARATORS = r"[\s\-_—–·.]*"
_TWELVE_DIGITS = r"(\d(?:" + _SEPARATORS + r"\d){11})"
_BARE_NUMBER = re.compile(r"(?<![\dA-Za-z])(20\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{4})(?!\d)")
_MOBILE_SPACED = re.compile(r"(?<!\d)(1[3-9]\d(?:" + _SEPARATORS + r"\d){8})(?!\d)")
_DIGIT_RUN = re.compile(r"\d(?:[\s\-]*\d)*")
_COUNT = re.compile(r"([0-9一二两三四五六七八九十百]{1,4})\s*[来多几]?\s*(?:个人|位|名|人|口人|口|个)")
_FAMILY_OF = re.compile(r"一家([二两三四五六七八九十])口")


def normalize_text(text: str) -> str:
    """NFKC folds full-width letters and digits (ＤＤ２０２６ -> DD2026); upper-cased for prefixes."""
    return unicodedata.normalize("NFKC", text or "")


def _find_prefixed(text: str, prefix: str, allow_bare: bool) -> str | None:
    folded = normalize_text(text).upper()
    match = re.search(rf"(?<![A-Z]){prefix}{_SEPARATORS}{_TWELVE_DIGITS}(?!\d)", folded)
    if match:
        return prefix + re.sub(r"\D", "", match.group(1))
    if allow_bare:
        compact = re.sub(r"(?<=\d)[\s\-]+(?=\d)", "", folded)
        bare = _BARE_NUMBER.search(compact)
        if bare:
            return prefix + bare.group(1)
    return None


def find_order_number(text: str, *, allow_bare: bool = True) -> str | None:
    """'dd202611200017', 'DD 2026 1120 0017', full-width, or the bare 12 digits -> 'DD202611200017'."""
    return _find_prefixed(text, ORDER_PREFIX, allow_bare)


def find_ticket_number(text: str, *, allow_bare: bool = True) -> str | None:
    return _find_prefixed(text, TICKET_PREFIX, allow_bare)


def find_booking_number(text: str, *, allow_bare: bool = True) -> str | None:
    return _find_prefixed(text, BOOKING_PREFIX, allow_bare)


def find_mobile(text: str) -> str | None:
    """A mainland mobile in the text, tolerating spaces and dashes: '138 1234 5678' -> '13812345678'."""
    match = _MOBILE_SPACED.search(normalize_text(text))
    if not match:
        return None
    digits = re.sub(r"\D", "", match.group(1))
    return digits if MOBILE_RE.fullmatch(digits) else None


def looks_like_phone_attempt(text: str) -> bool:
    """True when the customer typed a run of 7+ digits that is not a valid mobile (e.g. 10 digits)."""
    runs = [re.sub(r"\D", "", run) for run in _DIGIT_RUN.findall(normalize_text(text))]
    return any(len(run) >= 7 for run in runs) and find_mobile(text) is None


def parse_count(text: str) -> int | None:
    """People counts: '两位' -> 2, '十五个人' -> 15, '3个人' -> 3, '一家三口' -> 3, '6' -> 6."""
    folded = normalize_text(text).strip()
    family = _FAMILY_OF.search(folded)
    if family:
        return int(cn2an.cn2an(family.group(1), "smart"))
    match = _COUNT.search(folded)
    token = match.group(1) if match else folded if re.fullmatch(r"[0-9一二两三四五六七八九十百]{1,4}", folded) else None
    if token is None:
        return None
    try:
        value = int(cn2an.cn2an(token, "smart"))
    except (ValueError, KeyError):
        return None
    return value if value > 0 else None
