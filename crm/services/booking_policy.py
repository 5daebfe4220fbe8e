"""Per-business booking policy from crm/seed/data/bookings.yml: lead times, limits, aliases, cancellation."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field

from core.settings import get_settings
from crm.seed.config import load_seed_data

POLICY_FILE = Path(__file__).resolve().parent.parent / "seed" / "data" / "bookings.yml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CancellationRule(_Strict):
    """Free cancellation until a deadline; after it the fee `fee_zh` applies. `services` limits the rule."""

    services: list[str] | None = None
    free_until_minutes_before: int | None = None
    free_until_local_time: str | None = None
    days_before: int = 0
    fee_zh: str | None = None

    def applies_to(self, service_code: str | None) -> bool:
        return self.services is None or service_code in self.services

    def deadline(self, start_at: datetime, tz: ZoneInfo) -> datetime:
        """The last moment of free cancellation for a booking starting at `start_at`."""
        if self.free_until_local_time is not None:
            day = start_at.astimezone(tz).date() - timedelta(days=self.days_before)
            hours, minutes = (int(part) for part in self.free_until_local_time.split(":"))
            return datetime.combine(day, time(hours, minutes), tzinfo=tz)
        return start_at - timedelta(minutes=self.free_until_minutes_before or 0)


class BusinessPolicy(_Strict):
    words: list[str] = Field(default_factory=list)  # what customers call the business itself
    min_lead_minutes: int = 0
    max_days_ahead: int = 30
    max_nights: int | None = None
    min_party_size: int = 1
    max_party_size: int | None = None
    last_seating_minutes_before_close: int = 0
    services: dict[str, list[str]] = Field(default_factory=dict)
    rooms: dict[str, list[str]] = Field(default_factory=dict)
    areas: dict[str, list[str]] = Field(default_factory=dict)
    cancellation: list[CancellationRule]
    check_in_time: str | None = None
    check_out_time: str | None = None

    def cancellation_rule(self, service_code: str | None) -> CancellationRule:
        return next(rule for rule in self.cancellation if rule.applies_to(service_code))


class Wording(_Strict):
    weekdays: list[str]
    moment: str
    day: str
    button_moment: str
    areas: dict[str, str]
    booking_line: str
    statuses: dict[str, str]
    nights: str
    party: str
    checkout: str
    area_with_room: str


class BookingPolicy(_Strict):
    businesses: dict[str, BusinessPolicy]
    plate_provinces: str
    store_aliases: dict[str, list[str]]
    name_prefixes: list[str]
    wording: Wording

    def business(self, code: str) -> BusinessPolicy:
        return self.businesses[code]


def match_alias(text: str, aliases: dict[str, list[str]]) -> list[str]:
    """Codes whose aliases occur in `text`; the longest alias wins, so '大保养' is not also '保养'."""
    found: list[tuple[int, int, str]] = []
    for code, words in aliases.items():
        for word in words:
            start = text.find(word)
            if start >= 0:
                found.append((start, len(word), code))
    found.sort(key=lambda item: -item[1])
    covered: list[tuple[int, int]] = []
    codes: list[str] = []
    for start, length, code in found:
        end = start + length
        if any(start < c_end and c_start < end for c_start, c_end in covered):
            continue
        covered.append((start, end))
        if code not in codes:
            codes.append(code)
    return codes


@lru_cache
def get_booking_policy() -> BookingPolicy:
    """The policy file merged with the hotel's check-in/out times from tenant.yml; read once per process."""
    with POLICY_FILE.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    tenant = load_seed_data().tenant
    for business in tenant.businesses:
        entry = raw["businesses"].setdefault(business.code, {})
        entry.setdefault("check_in_time", business.check_in_time)
        entry.setdefault("check_out_time", business.check_out_time)
    return BookingPolicy.model_validate(raw)


def local_tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)
