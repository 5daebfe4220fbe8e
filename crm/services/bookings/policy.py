"""The booking policy from policy/bookings.yml: each business's kind, asked slots, limits, words, cancellation.

Everything that differs between businesses is here, as data; the behaviour of each kind (what a booking
spans, opening hours, capacity, alternatives) is in `kinds.py`. A business of an existing kind is added by
adding it to the file (and its stores and services to the CRM).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.settings import get_settings
from crm.policy import load_policy

POLICY_FILE = Path(__file__).resolve().parents[3] / "policy" / "bookings.yml"

KindCode = Literal["appointment", "stay", "table"]


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


class KindPolicy(_Strict):
    """What every business of one kind shares in the dialogue."""

    with_clock: bool = True  # False: booked by the day (a stay), so no clock time is asked or shown
    planned_by: list[str]  # the slots the calendar check needs (it runs before the others are known)
    reask: dict[str, str]  # problem code -> the slot asked again
    responses: dict[str, str] = Field(default_factory=dict)  # role -> response name, unless the business names one
    changes_service: bool = False  # a change request may name another service (a stay: another room type)
    # A stay's span in words: "后天退房" names its end (the nights follow from it), "周五入住" its start.
    until_words: list[str] = Field(default_factory=list)
    from_words: list[str] = Field(default_factory=list)


class BusinessPolicy(_Strict):
    kind: KindCode
    slots: list[str]  # what the booking form asks, in order (the business itself and the contact come first/last)
    responses: dict[str, str] = Field(default_factory=dict)  # role -> response name (overrides the kind's)
    words: list[str] = Field(default_factory=list)  # what customers call the business itself
    priority: int = 0  # a message naming several businesses' words means the highest priority one
    min_lead_minutes: int = 0
    max_days_ahead: int = 30
    max_nights: int | None = None
    min_party_size: int = 1
    max_party_size: int | None = None
    last_seating_minutes_before_close: int = 0
    services: dict[str, list[str]] = Field(default_factory=dict)  # bookable service (room type) -> words
    areas: dict[str, list[str]] = Field(default_factory=dict)  # table kind: area (service category) -> words
    shared_area: str | None = None  # table kind: the area whose tables share the store's per-slot capacity
    cancellation: list[CancellationRule]
    # A stay's check-in and check-out times ("14:00" / "12:00"): the one home of these facts; seeded texts that
    # state them (the FAQ, the business description) are checked against them (tests/crm/test_seed.py).
    check_in_time: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    check_out_time: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")

    @model_validator(mode="after")
    def _kind_needs(self) -> BusinessPolicy:
        if self.kind == "stay" and not (self.check_in_time and self.check_out_time):
            raise ValueError("a business of kind 'stay' needs check_in_time and check_out_time")
        if self.kind == "table" and (not self.areas or self.shared_area not in self.areas):
            raise ValueError("a business of kind 'table' needs areas and a shared_area among them")
        if self.kind != "table" and not self.services:
            raise ValueError(f"a business of kind {self.kind!r} needs services")
        if not any(rule.services is None for rule in self.cancellation):
            raise ValueError("the last cancellation rule must apply to every service (no 'services:')")
        return self

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
    contact: str
    list_separator: str


class BookingPolicy(_Strict):
    kinds: dict[KindCode, KindPolicy]
    businesses: dict[str, BusinessPolicy]
    plate_provinces: str
    store_aliases: dict[str, list[str]]
    name_prefixes: list[str]
    wording: Wording

    @model_validator(mode="after")
    def _every_kind_described(self) -> BookingPolicy:
        missing = {business.kind for business in self.businesses.values()} - set(self.kinds)
        if missing:
            raise ValueError(f"kinds used by a business but not described: {sorted(missing)}")
        return self

    def business(self, code: str) -> BusinessPolicy:
        return self.businesses[code]

    def knows(self, code: object) -> bool:
        return isinstance(code, str) and code in self.businesses

    def kind_of(self, code: str) -> KindPolicy:
        return self.kinds[self.business(code).kind]

    def response(self, code: str, role: str) -> str:
        """The response a business uses for `role` (ask_booking_service, booking_summary…): its own, else its kind's."""
        business = self.business(code)
        name = business.responses.get(role) or self.kinds[business.kind].responses.get(role)
        if name is None:
            raise LookupError(f"policy/bookings.yml: business {code!r} names no response for {role!r}")
        return name


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
def load_booking_policy(directory: Path | None = None) -> BookingPolicy:
    """policy/bookings.yml (or `directory`/bookings.yml), validated; a mistake is refused with its file and line
    (`python -m crm.policy_check`)."""
    return load_policy(POLICY_FILE.name, BookingPolicy, directory=directory or POLICY_FILE.parent)


@lru_cache
def get_booking_policy() -> BookingPolicy:
    """The policy the services use, read once per process (edit the file and restart)."""
    return load_booking_policy.__wrapped__(POLICY_FILE.parent)


def local_tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)
