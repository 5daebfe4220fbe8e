"""What the booking services take and return: drafts, problems, bookings, results (frozen DTOs)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

ProblemCode = Literal[
    "unknown_store",
    "unknown_service",
    "past",
    "too_soon",
    "too_far",
    "closed",
    "full",
    "party_too_small",
    "party_too_large",
    "hall_too_small",
    "no_room_for_party",
    "nights_out_of_range",
    "not_modifiable",
]


class _Dto(BaseModel):
    model_config = ConfigDict(frozen=True)


class BookingDraft(_Dto):
    """What the customer asked for. `service_code` is the room type of a stay; a table uses `area`."""

    business_code: str
    store_code: str
    start_at: datetime  # a stay: any moment on the check-in day
    service_code: str | None = None
    party_size: int | None = None
    nights: int | None = None
    area: str | None = None
    plate_number: str | None = None

    def content_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


class BookingProblem(_Dto):
    """Why a request cannot be booked, with what can be offered instead."""

    code: ProblemCode
    alternatives: list[datetime] = []  # free start times, nearest first
    alternative_services: list[str] = []  # e.g. other room types free on the same dates
    limit: int | None = None  # e.g. the maximum party size
    hours_text_zh: str | None = None


class BookingOut(_Dto):
    booking_number: str
    customer_id: int
    business_code: str
    business_name_zh: str
    store_code: str
    store_name: str
    store_address: str
    store_phone: str
    service_code: str | None
    service_name: str | None
    start_at: datetime
    end_at: datetime
    party_size: int | None
    room_type: str | None
    nights: int | None
    plate_number: str | None
    area: str | None
    status: str
    masked_customer_name: str
    masked_mobile: str


class BookingResult(_Dto):
    booking: BookingOut | None = None
    problem: BookingProblem | None = None
    created: bool = False  # False: an earlier identical request already created `booking`


class CancellationOut(_Dto):
    booking: BookingOut
    free: bool  # False: the fee `fee_zh` applies under the policy
    fee_zh: str | None
    free_until: datetime
    already_cancelled: bool = False


class BookingDataError(RuntimeError):
    """A booking row points at a store, business or customer that is gone: a data error, not a request error."""


@dataclass(frozen=True)
class PlannedService:
    """What a draft would book, as the summary states it (a restaurant's room and its minimum spend)."""

    name: str
    price: Decimal
    price_unit_zh: str | None
