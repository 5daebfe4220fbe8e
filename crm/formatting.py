"""Masking of personal data shown in chat, how to address a customer, and how days and moments are written."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from core.settings import get_settings

MASK = "*"
_WORDING_FILE = Path(__file__).with_name("formatting.zh.yml")


@lru_cache
def _wording() -> dict[str, Any]:
    with _WORDING_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def mask_mobile(mobile: str) -> str:
    """'13812341234' -> '138****1234'; other lengths keep the first 3 and last 4 characters when possible."""
    if len(mobile) == 11:
        return f"{mobile[:3]}{MASK * 4}{mobile[-4:]}"
    if len(mobile) <= 4:
        return MASK * len(mobile)
    keep_head = min(3, len(mobile) - 4)
    return f"{mobile[:keep_head]}{MASK * (len(mobile) - keep_head - 4)}{mobile[-4:]}"


def mask_name(name: str) -> str:
    """Keep the first and last character and hide the middle.

    '张三丰' -> '张*丰', '张三' -> '张*', '欧阳娜娜' -> '欧**娜', '李' -> '*'.

    Two-character names keep only the surname, so a given name is never fully shown. Compound surnames
    are not detected on purpose: the rule stays predictable and never reveals more than two characters.
    """
    name = name.strip()
    if len(name) <= 1:
        return MASK * len(name)
    if len(name) == 2:
        return f"{name[0]}{MASK}"
    return f"{name[0]}{MASK * (len(name) - 2)}{name[-1]}"


def surname_of(name: str) -> str:
    """The family name: a known two-character surname (欧阳), otherwise the first character."""
    name = name.strip()
    for compound in _wording()["compound_surnames"]:
        if name.startswith(compound) and len(name) > len(compound):
            return str(compound)
    return name[:1]


def customer_title(name: str, gender: str) -> str:
    """Surname + honorific ('林先生', '欧阳女士'); the full name when the gender is unknown."""
    honorific = _wording()["honorifics"].get(gender)
    name = name.strip()
    if not honorific or not name:
        return name
    return f"{surname_of(name)}{honorific}"


def order_status_label(status: str) -> str:
    """The Chinese name of an order status ('in_transit' -> '运输中'), from formatting.zh.yml."""
    return str(_wording()["order_status_labels"][status])


def local_time(moment: datetime) -> datetime:
    """The moment in the company's time zone (settings.timezone)."""
    return moment.astimezone(ZoneInfo(get_settings().timezone))


def day_text(day: date | datetime) -> str:
    """'12月3日': a calendar day (a moment is taken in the company's time zone first)."""
    local = local_time(day) if isinstance(day, datetime) else day
    return str(_wording()["day"]).format(month=local.month, day=local.day)


def moment_text(moment: datetime) -> str:
    """'12月03日 14:30': a moment in the company's time zone (a call-back time)."""
    local = local_time(moment)
    return str(_wording()["moment"]).format(month=local.month, day=local.day, hour=local.hour, minute=local.minute)
