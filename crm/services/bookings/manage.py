"""Bookings: read them (for their owner only), create once, modify, cancel.

Times are timezone-aware; opening hours and check-in/out times are local (settings.timezone). Every
function takes `now` so callers (and tests) decide what "now" is. Ownership is the one rule in
crm/services/ownership.py, so "not found" and "not yours" read the same.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.formatting import mask_mobile, mask_name
from crm.models import Booking, Business, Customer, Service, Store
from crm.numbers import allocate_booking_number
from crm.repositories import CustomerRepository
from crm.repositories.bookings import BookingRepository
from crm.services.bookings.kinds import kind_for
from crm.services.bookings.planning import apply_plan, lock_store, plan_booking
from crm.services.bookings.policy import get_booking_policy, local_tz
from crm.services.bookings.schemas import (
    BookingDataError,
    BookingDraft,
    BookingOut,
    BookingProblem,
    BookingResult,
    CancellationOut,
)
from crm.services.ownership import Requester

MODIFIABLE_STATUSES = frozenset({"confirmed", "modified"})

_Row = TypeVar("_Row", Store, Business, Customer)


# ---------------------------------------------------------------------------------------------- reading


def _required(session: Session, model: type[_Row], key: int, booking: Booking) -> _Row:
    row = session.get(model, key)
    if row is None:
        raise BookingDataError(f"booking {booking.booking_number}: {model.__name__} {key} does not exist")
    return row


def booking_out(session: Session, booking: Booking) -> BookingOut:
    store = _required(session, Store, booking.store_id, booking)
    business = _required(session, Business, booking.business_id, booking)
    customer = _required(session, Customer, booking.customer_id, booking)
    service = session.get(Service, booking.service_id) if booking.service_id else None
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
        booking_out(session, booking) if booking is not None and _owned(session, booking, customer_id, mobile) else None
    )


def list_upcoming_bookings(session: Session, *, customer_id: int, now: datetime, limit: int = 5) -> list[BookingOut]:
    """The customer's active bookings that have not ended, soonest first."""
    return [
        booking_out(session, booking)
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
        if customer is None:
            raise
    return customer.id


# ------------------------------------------------------------------------------------------- creating


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
        return BookingResult(booking=booking_out(session, existing), created=False)
    lock_store(session, draft.store_code)
    plan = plan_booking(session, draft, now)
    if isinstance(plan, BookingProblem):
        return BookingResult(problem=plan)
    # The same appointment confirmed from a second browser or channel (another idempotency key) is the first
    # one; checked under the store lock, so two conversations confirming at once cannot both book.
    twin = (
        repository.find_active_twin(
            customer_id=customer_id,
            store_id=plan.store.id,
            service_id=plan.service.id,
            start_at=plan.start_at,
            plate_number=draft.plate_number,
        )
        if kind_for(get_booking_policy().business(draft.business_code)).one_at_a_time
        else None
    )
    if twin is not None:
        return BookingResult(booking=booking_out(session, twin), created=False)
    booking = Booking(
        booking_number=allocate_booking_number(session, at=now),
        customer_id=customer_id,
        business_id=plan.store.business_id,
        store_id=plan.store.id,
        party_size=draft.party_size,
        plate_number=draft.plate_number,
        status="confirmed",
        idempotency_key=idempotency_key,
    )
    apply_plan(booking, plan)
    try:
        with session.begin_nested():
            repository.add(booking)
    except IntegrityError:  # the same request committed concurrently
        existing = repository.get_by_idempotency_key(idempotency_key)
        if existing is None:
            raise
        return BookingResult(booking=booking_out(session, existing), created=False)
    return BookingResult(booking=booking_out(session, booking), created=True)


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
    out = booking_out(session, booking)
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
    return terms.model_copy(update={"booking": booking_out(session, booking)})


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
    current = booking_out(session, booking)
    free_until, _fee = _free_until(booking, current.business_code, current.service_code)
    if booking.status not in MODIFIABLE_STATUSES or now > free_until:
        return BookingResult(booking=current, problem=BookingProblem(code="not_modifiable"))
    kind = kind_for(get_booking_policy().business(current.business_code))
    draft = BookingDraft(
        business_code=current.business_code,
        store_code=current.store_code,
        start_at=current.start_at,
        service_code=kind.service_kept_on_change(current),
        party_size=current.party_size,
        nights=current.nights,
        area=current.area,
        plate_number=current.plate_number,
    ).model_copy(update={key: value for key, value in changes.items() if value is not None})
    lock_store(session, draft.store_code)
    plan = plan_booking(session, draft, now, booking.id)
    if isinstance(plan, BookingProblem):
        return BookingResult(booking=current, problem=plan)
    apply_plan(booking, plan)
    booking.party_size = draft.party_size
    booking.status = "modified"
    session.flush()
    return BookingResult(booking=booking_out(session, booking), created=False)


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
