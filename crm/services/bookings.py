"""Bookings: check a request against the store (hours, lead time, capacity), create it once, modify, cancel.

Times are timezone-aware; opening hours and the hotel's check-in/out times are local (settings.timezone).
Every function takes `now` so callers (and tests) decide what "now" is.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.formatting import mask_mobile, mask_name
from crm.models import Booking, Business, Customer, Service, Store
from crm.numbers import allocate_booking_number
from crm.repositories import CustomerRepository, StoreRepository
from crm.repositories.bookings import BookingRepository
from crm.seed.config import WEEKDAYS
from crm.services.booking_policy import BusinessPolicy, get_booking_policy, local_tz
from crm.services.ownership import Requester

ALTERNATIVES = 3
SEARCH_DAYS = 7
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
    """What the customer asked for. `service_code` is the room type for hotels; restaurants use `area`."""

    business_code: str
    store_code: str
    start_at: datetime  # hotel: any moment on the check-in day
    service_code: str | None = None
    party_size: int | None = None
    nights: int | None = None
    area: Literal["hall", "private_room"] | None = None
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


class BookingUnavailableError(Exception):
    def __init__(self, problem: BookingProblem) -> None:
        super().__init__(problem.code)
        self.problem = problem


# ---------------------------------------------------------------------------------------------- reading


def _booking_out(session: Session, booking: Booking) -> BookingOut:
    store = session.get(Store, booking.store_id)
    business = session.get(Business, booking.business_id)
    service = session.get(Service, booking.service_id) if booking.service_id else None
    customer = session.get(Customer, booking.customer_id)
    assert store is not None and business is not None and customer is not None
    return BookingOut(
        booking_number=booking.booking_number,
        customer_id=booking.customer_id,
        business_code=business.code,
        business_name_zh=business.name_zh,
        store_code=store.code,
        store_name=store.name,
        store_address=store.address,
        store_phone=store.phone,
        service_code=service.code if service else None,
        service_name=service.name if service else None,
        start_at=booking.start_at,
        end_at=booking.end_at,
        party_size=booking.party_size,
        room_type=booking.room_type,
        nights=booking.nights,
        plate_number=booking.plate_number,
        area=booking.area,
        status=booking.status,
        masked_customer_name=mask_name(customer.name),
        masked_mobile=mask_mobile(customer.mobile),
    )


def _owned(session: Session, booking: Booking | None, customer_id: int | None, mobile: str | None) -> bool:
    """A booking is shown or changed only for its customer (crm/services/ownership.py)."""
    if booking is None:
        return False
    customer = session.get(Customer, booking.customer_id)
    requester = Requester(customer_id=customer_id, mobile=mobile if customer_id is None else None)
    return requester.may_see(booking.customer_id, customer.mobile if customer else None)


def get_booking(
    session: Session, *, booking_number: str, customer_id: int | None = None, mobile: str | None = None
) -> BookingOut | None:
    """The booking if it belongs to the customer (by id and/or the booking's mobile); None otherwise."""
    booking = BookingRepository(session).get_by_number(booking_number)
    return (
        _booking_out(session, booking)
        if booking is not None and _owned(session, booking, customer_id, mobile)
        else None
    )


def list_upcoming_bookings(session: Session, *, customer_id: int, now: datetime, limit: int = 5) -> list[BookingOut]:
    """The customer's active bookings that have not ended, soonest first."""
    return [
        _booking_out(session, booking)
        for booking in BookingRepository(session).list_upcoming_for_customer(customer_id, now, limit)
    ]


def find_or_create_customer(session: Session, *, mobile: str, name: str) -> int:
    """The id of the customer with this mobile; a new lead customer when there is none."""
    repository = CustomerRepository(session)
    customer = repository.get_by_mobile(mobile)
    if customer is not None:
        return customer.id
    try:
        with session.begin_nested():
            customer = repository.add(Customer(name=name.strip()[:32], mobile=mobile, tier="lead"))
    except IntegrityError:  # created concurrently by another conversation
        customer = repository.get_by_mobile(mobile)
        assert customer is not None
    return customer.id


# ------------------------------------------------------------------------------------------- planning


@dataclass
class _Plan:
    store: Store
    service: Service | None
    start_at: datetime
    end_at: datetime
    area: str | None = None
    nights: int | None = None
    room_type: str | None = None
    problems: list[BookingProblem] = field(default_factory=list)


def _local_at(day: date, clock: str) -> datetime:
    hours, minutes = (int(part) for part in clock.split(":"))
    return datetime.combine(day, time(0, 0), tzinfo=local_tz()) + timedelta(hours=hours, minutes=minutes)


def _periods(store: Store, day: date) -> list[tuple[datetime, datetime]]:
    return [
        (_local_at(day, opening), _local_at(day, closing))
        for opening, closing in store.opening_hours[WEEKDAYS[day.weekday()]]
    ]


def _is_open(store: Store, policy: BusinessPolicy, business: str, start: datetime, end: datetime) -> bool:
    if business == "hotel":
        return True
    day = start.astimezone(local_tz()).date()
    for opening, closing in _periods(store, day):
        if business == "restaurant":
            if opening <= start <= closing - timedelta(minutes=policy.last_seating_minutes_before_close):
                return True
        elif opening <= start and end <= closing:
            return True
    return False


class _Occupancy:
    """Counts active bookings of one store in a time window, loaded once for many candidate slots."""

    def __init__(self, session: Session, store: Store, start: datetime, end: datetime, exclude_id: int | None) -> None:
        self.bookings = BookingRepository(session).list_overlapping(store.id, start, end, exclude_id=exclude_id)

    def count(
        self, start: datetime, end: datetime, *, service_ids: set[int] | None = None, area: str | None = None
    ) -> int:
        return sum(
            1
            for booking in self.bookings
            if booking.start_at < end
            and booking.end_at > start
            and (service_ids is None or booking.service_id in service_ids)
            and (area is None or booking.area == area)
        )


def _has_capacity(plan: _Plan, business: str, occupancy: _Occupancy, start: datetime, end: datetime) -> bool:
    store, service = plan.store, plan.service
    if business == "hotel":
        if service is None:  # a stay always books a room type
            return False
        inventory = int((service.attributes or {}).get("inventory", store.capacity_per_slot))
        night = start
        while night < end - timedelta(hours=12):
            night_end = night + timedelta(days=1)
            if occupancy.count(night, night_end, service_ids={service.id}) >= inventory:
                return False
            if occupancy.count(night, night_end) >= store.capacity_per_slot:
                return False
            night = night_end
        return True
    if business == "restaurant" and plan.area == "private_room":
        if service is None:
            return False
        rooms = int((service.attributes or {}).get("rooms", 1))
        return occupancy.count(start, end, service_ids={service.id}) < rooms
    area = "hall" if business == "restaurant" else None
    window = timedelta(minutes=store.slot_minutes)
    slot_start = start
    while slot_start < end:
        if occupancy.count(slot_start, min(slot_start + window, end), area=area) >= store.capacity_per_slot:
            return False
        slot_start += window
    return True


def _duration(plan: _Plan) -> timedelta:
    return plan.end_at - plan.start_at


def _alternatives(
    plan: _Plan, business: str, policy: BusinessPolicy, occupancy: _Occupancy, now: datetime
) -> list[datetime]:
    """Free starts on the store's slot grid, the requested day first, then the nearest to the request."""
    earliest = now + timedelta(minutes=policy.min_lead_minutes)
    requested_day = plan.start_at.astimezone(local_tz()).date()
    duration = _duration(plan)
    candidates: list[datetime] = []
    for offset in range(SEARCH_DAYS):
        day = requested_day + timedelta(days=offset)
        for opening, closing in _periods(plan.store, day):
            slot = opening
            while slot < closing:
                end = slot + duration
                if (
                    slot >= earliest
                    and _is_open(plan.store, policy, business, slot, end)
                    and _has_capacity(plan, business, occupancy, slot, end)
                ):
                    candidates.append(slot)
                slot += timedelta(minutes=plan.store.slot_minutes)
    candidates.sort(key=lambda slot: (slot.astimezone(local_tz()).date() != requested_day, abs(slot - plan.start_at)))
    return sorted(candidates[:ALTERNATIVES])


def _restaurant_service(session: Session, business_id: int, area: str, party: int) -> list[Service]:
    category = "hall" if area == "hall" else "private_room"
    services = session.scalars(
        select(Service).where(
            Service.business_id == business_id, Service.category == category, Service.active.is_(True)
        )
    )
    return sorted(
        (
            service
            for service in services
            if int((service.attributes or {}).get("capacity_min", 1))
            <= party
            <= int((service.attributes or {}).get("capacity_max", 10**6))
        ),
        key=lambda service: int((service.attributes or {}).get("capacity_max", 0)),
    )


def _plan(session: Session, draft: BookingDraft, now: datetime, exclude_id: int | None) -> _Plan | BookingProblem:
    policy = get_booking_policy().business(draft.business_code)
    store = StoreRepository(session).get_by_code(draft.store_code)
    if store is None or store.business.code != draft.business_code:
        return BookingProblem(code="unknown_store")
    tz = local_tz()
    business = draft.business_code
    party = draft.party_size
    if business == "restaurant":
        party = party or 0
        if party < policy.min_party_size:
            return BookingProblem(code="party_too_small", limit=policy.min_party_size)
        if policy.max_party_size is not None and party > policy.max_party_size:
            return BookingProblem(code="party_too_large", limit=policy.max_party_size)
        area = draft.area or "hall"
        fitting = _restaurant_service(session, store.business_id, area, party)
        if not fitting:
            return BookingProblem(code="hall_too_small" if area == "hall" else "no_room_for_party")
        table = fitting[0]
        service: Service | None = table
        start = draft.start_at
        plan = _Plan(store, service, start, start + timedelta(minutes=table.duration_minutes or 120), area=area)
        plan_candidates = fitting
    elif business == "hotel":
        service = session.scalar(
            select(Service).where(Service.business_id == store.business_id, Service.code == draft.service_code)
        )
        if service is None:
            return BookingProblem(code="unknown_service")
        nights = draft.nights or 1
        if not 1 <= nights <= (policy.max_nights or nights):
            return BookingProblem(code="nights_out_of_range", limit=policy.max_nights)
        max_guests = int((service.attributes or {}).get("max_guests", 2))
        if party is not None and party > max_guests:
            return BookingProblem(code="party_too_large", limit=max_guests)
        day = draft.start_at.astimezone(tz).date()
        assert policy.check_in_time and policy.check_out_time
        plan = _Plan(
            store,
            service,
            _local_at(day, policy.check_in_time),
            _local_at(day + timedelta(days=nights), policy.check_out_time),
            nights=nights,
            room_type=service.code,
        )
        plan_candidates = [service]
    else:
        service = session.scalar(
            select(Service).where(Service.business_id == store.business_id, Service.code == draft.service_code)
        )
        if service is None or draft.service_code not in policy.services:
            return BookingProblem(code="unknown_service")
        start = draft.start_at
        plan = _Plan(store, service, start, start + timedelta(minutes=service.duration_minutes or store.slot_minutes))
        plan_candidates = [service]

    occupancy = _Occupancy(
        session, store, plan.start_at - timedelta(days=1), plan.end_at + timedelta(days=SEARCH_DAYS + 1), exclude_id
    )
    if business == "hotel":
        if plan.start_at.astimezone(tz).date() < now.astimezone(tz).date():
            return BookingProblem(code="past")
    else:
        if plan.start_at < now:
            return BookingProblem(code="past", alternatives=_alternatives(plan, business, policy, occupancy, now))
        if plan.start_at < now + timedelta(minutes=policy.min_lead_minutes):
            return BookingProblem(code="too_soon", alternatives=_alternatives(plan, business, policy, occupancy, now))
    if plan.start_at > now + timedelta(days=policy.max_days_ahead):
        return BookingProblem(code="too_far", limit=policy.max_days_ahead)
    if not _is_open(store, policy, business, plan.start_at, plan.end_at):
        return BookingProblem(
            code="closed",
            alternatives=_alternatives(plan, business, policy, occupancy, now),
            hours_text_zh=store.hours_text_zh,
        )
    for candidate in plan_candidates:  # restaurants: the smallest free room that fits the party
        plan.service = candidate
        if business != "hotel":
            plan.end_at = plan.start_at + timedelta(minutes=candidate.duration_minutes or store.slot_minutes)
        if _has_capacity(plan, business, occupancy, plan.start_at, plan.end_at):
            return plan
    plan.service = plan_candidates[0]
    if business == "hotel":
        others = session.scalars(
            select(Service).where(
                Service.business_id == store.business_id, Service.category == "room", Service.id != plan.service.id
            )
        )
        free = []
        for other in others:
            trial = _Plan(store, other, plan.start_at, plan.end_at, nights=plan.nights, room_type=other.code)
            if _has_capacity(trial, business, occupancy, trial.start_at, trial.end_at):
                free.append(other.code)
        return BookingProblem(code="full", alternative_services=free)
    return BookingProblem(code="full", alternatives=_alternatives(plan, business, policy, occupancy, now))


def check_booking(session: Session, *, draft: BookingDraft, now: datetime) -> BookingProblem | None:
    """None when `draft` can be booked now; otherwise what is wrong and what is free instead."""
    plan = _plan(session, draft, now, None)
    return plan if isinstance(plan, BookingProblem) else None


def _lock_store(session: Session, store_code: str) -> None:
    """Serialises capacity checks per store on PostgreSQL (SQLite's BEGIN IMMEDIATE already does)."""
    session.scalar(select(Store.id).where(Store.code == store_code).with_for_update())


def booking_idempotency_key(conversation_key: str, draft: BookingDraft) -> str:
    """One key per conversation and booking content: a retried confirmation finds the first booking."""
    return hashlib.sha256(f"{conversation_key}:{draft.content_hash()}".encode()).hexdigest()


def create_booking(
    session: Session, *, draft: BookingDraft, customer_id: int, idempotency_key: str, now: datetime
) -> BookingResult:
    """Books `draft` for the customer once: a repeat with the same key returns the existing booking."""
    repository = BookingRepository(session)
    existing = repository.get_by_idempotency_key(idempotency_key)
    if existing is not None:
        return BookingResult(booking=_booking_out(session, existing), created=False)
    _lock_store(session, draft.store_code)
    plan = _plan(session, draft, now, None)
    if isinstance(plan, BookingProblem):
        return BookingResult(problem=plan)
    if plan.service is None:
        return BookingResult(problem=BookingProblem(code="unknown_service"))
    booking = Booking(
        booking_number=allocate_booking_number(session, at=now),
        customer_id=customer_id,
        business_id=plan.store.business_id,
        store_id=plan.store.id,
        service_id=plan.service.id,
        start_at=plan.start_at,
        end_at=plan.end_at,
        party_size=draft.party_size,
        room_type=plan.room_type,
        nights=plan.nights,
        plate_number=draft.plate_number,
        area=plan.area,
        status="confirmed",
        idempotency_key=idempotency_key,
    )
    try:
        with session.begin_nested():
            repository.add(booking)
    except IntegrityError:  # the same request committed concurrently
        existing = repository.get_by_idempotency_key(idempotency_key)
        if existing is None:
            raise
        return BookingResult(booking=_booking_out(session, existing), created=False)
    return BookingResult(booking=_booking_out(session, booking), created=True)


# ------------------------------------------------------------------------------- modify and cancel


def _free_until(booking: Booking, business_code: str, service_code: str | None) -> tuple[datetime, str | None]:
    rule = get_booking_policy().business(business_code).cancellation_rule(service_code)
    return rule.deadline(booking.start_at, local_tz()), rule.fee_zh


def _owned_for_update(
    session: Session, booking_number: str, customer_id: int | None, mobile: str | None
) -> Booking | None:
    booking = BookingRepository(session).get_by_number(booking_number, for_update=True)
    return booking if _owned(session, booking, customer_id, mobile) else None


def cancellation_terms(
    session: Session, *, booking_number: str, now: datetime, customer_id: int | None = None, mobile: str | None = None
) -> CancellationOut | None:
    """What cancelling now would mean (free or the fee) without changing anything."""
    booking = BookingRepository(session).get_by_number(booking_number)
    if booking is None or not _owned(session, booking, customer_id, mobile):
        return None
    out = _booking_out(session, booking)
    free_until, fee = _free_until(booking, out.business_code, out.service_code)
    return CancellationOut(
        booking=out,
        free=now <= free_until or fee is None,
        fee_zh=fee,
        free_until=free_until,
        already_cancelled=booking.status == "cancelled",
    )


def cancel_booking(
    session: Session, *, booking_number: str, now: datetime, customer_id: int | None = None, mobile: str | None = None
) -> CancellationOut | None:
    """Cancels the customer's booking (idempotent) and says whether the policy's fee applies."""
    booking = _owned_for_update(session, booking_number, customer_id, mobile)
    if booking is None:
        return None
    terms = cancellation_terms(session, booking_number=booking_number, now=now, customer_id=customer_id, mobile=mobile)
    if terms is None:
        return None
    if booking.status == "cancelled":
        return terms
    booking.status = "cancelled"
    booking.idempotency_key = None  # the same booking may be made again later in this conversation
    session.flush()
    return terms.model_copy(update={"booking": _booking_out(session, booking)})


def modify_booking(
    session: Session,
    *,
    booking_number: str,
    now: datetime,
    customer_id: int | None = None,
    mobile: str | None = None,
    changes: dict[str, Any],
) -> BookingResult | None:
    """Applies `changes` (start_at, party_size, service_code, nights, area) if the store can take them.

    Allowed until the free-cancellation deadline; the booking keeps its number and becomes 'modified'.
    """
    booking = _owned_for_update(session, booking_number, customer_id, mobile)
    if booking is None:
        return None
    current = _booking_out(session, booking)
    free_until, _fee = _free_until(booking, current.business_code, current.service_code)
    if booking.status not in ("confirmed", "modified") or now > free_until:
        return BookingResult(booking=current, problem=BookingProblem(code="not_modifiable"))
    draft = BookingDraft(
        business_code=current.business_code,
        store_code=current.store_code,
        start_at=current.start_at,
        service_code=current.room_type or (current.service_code if current.business_code != "restaurant" else None),
        party_size=current.party_size,
        nights=current.nights,
        area=current.area,  # type: ignore[arg-type]
        plate_number=current.plate_number,
    ).model_copy(update={key: value for key, value in changes.items() if value is not None})
    _lock_store(session, draft.store_code)
    plan = _plan(session, draft, now, booking.id)
    if isinstance(plan, BookingProblem):
        return BookingResult(booking=current, problem=plan)
    if plan.service is None:
        return BookingResult(booking=current, problem=BookingProblem(code="unknown_service"))
    booking.start_at, booking.end_at = plan.start_at, plan.end_at
    booking.service_id = plan.service.id
    booking.party_size = draft.party_size
    booking.nights, booking.room_type, booking.area = plan.nights, plan.room_type, plan.area
    booking.status = "modified"
    session.flush()
    return BookingResult(booking=_booking_out(session, booking), created=False)


@dataclass(frozen=True)
class PlannedService:
    """What a draft would book, as the summary states it (a restaurant's room and its minimum spend)."""

    name: str
    price: Decimal
    price_unit_zh: str | None


def planned_service(session: Session, *, draft: BookingDraft, now: datetime) -> PlannedService | None:
    plan = _plan(session, draft, now, None)
    if isinstance(plan, BookingProblem) or plan.service is None:
        return None
    return PlannedService(plan.service.name, plan.service.price, plan.service.price_unit_zh)


def service_names(session: Session, *, business_code: str) -> dict[str, str]:
    """Code -> display name of a business's active services (room types, car care services…)."""
    rows = session.execute(
        select(Service.code, Service.name)
        .join(Business, Business.id == Service.business_id)
        .where(Business.code == business_code, Service.active.is_(True))
    )
    return dict(rows.tuples().all())


def preview_booking_change(
    session: Session,
    *,
    booking_number: str,
    now: datetime,
    customer_id: int | None = None,
    mobile: str | None = None,
    changes: dict[str, Any],
) -> BookingResult | None:
    """What `modify_booking` would do, without changing anything."""
    nested = session.begin_nested()
    try:
        return modify_booking(
            session, booking_number=booking_number, now=now, customer_id=customer_id, mobile=mobile, changes=changes
        )
    finally:
        nested.rollback()
