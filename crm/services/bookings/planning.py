"""Checks a draft against the store: the store and service exist, timing, opening hours, capacity.

The same steps for every business; what each step means comes from the business's kind (`kinds.py`) and
its limits from the policy (`policy.py`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Booking, Business, Service, Store
from crm.repositories import StoreRepository
from crm.services.bookings.kinds import SEARCH_DAYS, Occupancy, Plan, kind_for
from crm.services.bookings.policy import get_booking_policy
from crm.services.bookings.schemas import BookingDraft, BookingProblem, PlannedService


def plan_booking(
    session: Session, draft: BookingDraft, now: datetime, exclude_id: int | None = None
) -> Plan | BookingProblem:
    """The plan that books `draft` now (ignoring the booking `exclude_id`, when changing it), or what is wrong."""
    policies = get_booking_policy()
    store = StoreRepository(session).get_by_code(draft.store_code)
    if not policies.knows(draft.business_code) or store is None or store.business.code != draft.business_code:
        return BookingProblem(code="unknown_store")
    policy = policies.business(draft.business_code)
    kind = kind_for(policy)
    candidates = kind.candidates(session, store, draft, policy)
    if isinstance(candidates, BookingProblem):
        return candidates
    if not candidates:
        return BookingProblem(code="unknown_service")
    first = candidates[0]
    occupancy = Occupancy(
        session, store, first.start_at - timedelta(days=1), first.end_at + timedelta(days=SEARCH_DAYS + 1), exclude_id
    )
    timing = kind.timing_problem(first, policy, occupancy, now)
    if timing is not None:
        return timing
    if first.start_at > now + timedelta(days=policy.max_days_ahead):
        return BookingProblem(code="too_far", limit=policy.max_days_ahead)
    if not kind.is_open(first, policy):
        return BookingProblem(
            code="closed",
            alternatives=kind.free_starts(first, policy, occupancy, now),
            hours_text_zh=store.hours_text_zh,
        )
    for candidate in candidates:  # a table: the smallest free room that fits the party
        if kind.has_capacity(candidate, policy, occupancy):
            return candidate
    return kind.when_full(session, first, policy, occupancy, now)


def check_booking(session: Session, *, draft: BookingDraft, now: datetime) -> BookingProblem | None:
    """None when `draft` can be booked now; otherwise what is wrong and what is free instead."""
    plan = plan_booking(session, draft, now)
    return plan if isinstance(plan, BookingProblem) else None


def planned_service(session: Session, *, draft: BookingDraft, now: datetime) -> PlannedService | None:
    """What `draft` would book (the room a party gets, its price), or None when it cannot be booked."""
    plan = plan_booking(session, draft, now)
    if isinstance(plan, BookingProblem):
        return None
    return PlannedService(plan.service.name, plan.service.price, plan.service.price_unit_zh)


def lock_store(session: Session, store_code: str) -> None:
    """Serialises capacity checks per store on PostgreSQL (SQLite's BEGIN IMMEDIATE already does)."""
    session.scalar(select(Store.id).where(Store.code == store_code).with_for_update())


def apply_plan(booking: Booking, plan: Plan) -> None:
    """Writes what the plan decided onto the booking row."""
    booking.start_at, booking.end_at = plan.start_at, plan.end_at
    booking.service_id = plan.service.id
    booking.nights, booking.room_type, booking.area = plan.nights, plan.room_type, plan.area


def service_names(session: Session, *, business_code: str) -> dict[str, str]:
    """Code -> display name of a business's active services (room types, car care services…)."""
    rows = session.execute(
        select(Service.code, Service.name)
        .join(Business, Business.id == Service.business_id)
        .where(Business.code == business_code, Service.active.is_(True))
    )
    return dict(rows.tuples().all())
