"""Booking service on SQLite and PostgreSQL (seeded with ANCHOR 2026-11-20; "now" is that Friday 10:00)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.models import Booking, Customer
from crm.services import bookings as service
from crm.services.bookings import BookingDraft

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=TZ)
TOMORROW = NOW + timedelta(days=1)


def at(days: int, hour: int, minute: int = 0) -> datetime:
    return (NOW + timedelta(days=days)).replace(hour=hour, minute=minute)


def car(start: datetime, **extra: object) -> BookingDraft:
    return BookingDraft(
        business_code="car_care",
        store_code="gy-hgy-car",
        service_code="basic_wash",
        start_at=start,
        plate_number="贵A12345",
        **extra,
    )


def new_customer(session: Session, mobile: str = "13700001111") -> int:
    return service.find_or_create_customer(session, mobile=mobile, name="张三")


def test_create_booking_twice_with_the_same_key_creates_one(seeded_session: Session) -> None:
    customer_id = new_customer(seeded_session)
    first = service.create_booking(
        seeded_session, draft=car(at(3, 15)), customer_id=customer_id, idempotency_key="k1", now=NOW
    )
    again = service.create_booking(
        seeded_session, draft=car(at(3, 15)), customer_id=customer_id, idempotency_key="k1", now=NOW
    )
    assert first.created and not again.created
    assert first.booking is not None and again.booking is not None
    assert again.booking.booking_number == first.booking.booking_number
    assert first.booking.booking_number.startswith("YY20261120")
    count = seeded_session.scalar(select(func.count()).select_from(Booking).where(Booking.idempotency_key == "k1"))
    assert count == 1
    assert first.booking.masked_mobile == "137****1111" and first.booking.masked_customer_name == "张*"


def test_the_same_booking_confirmed_from_a_second_browser_is_the_first_one(seeded_session: Session) -> None:
    """Two conversations (two idempotency keys), one customer (the same mobile), the same car, store and time."""
    customer_id = new_customer(seeded_session, "13700003333")
    first = service.create_booking(
        seeded_session, draft=car(at(3, 11)), customer_id=customer_id, idempotency_key="browser-1", now=NOW
    )
    second = service.create_booking(
        seeded_session, draft=car(at(3, 11)), customer_id=customer_id, idempotency_key="browser-2", now=NOW
    )
    assert first.created and not second.created
    assert first.booking is not None and second.booking is not None
    assert second.booking.booking_number == first.booking.booking_number
    count = seeded_session.scalar(select(func.count()).select_from(Booking).where(Booking.customer_id == customer_id))
    assert count == 1
    # Another car, or another time, is another booking.
    other_car = car(at(3, 11)).model_copy(update={"plate_number": "贵A54321"})
    assert service.create_booking(
        seeded_session, draft=other_car, customer_id=customer_id, idempotency_key="browser-3", now=NOW
    ).created
    assert service.create_booking(
        seeded_session, draft=car(at(3, 14)), customer_id=customer_id, idempotency_key="browser-4", now=NOW
    ).created


def test_find_or_create_customer_reuses_the_mobile(seeded_session: Session) -> None:
    first = new_customer(seeded_session, "13700002222")
    assert new_customer(seeded_session, "13700002222") == first
    demo = seeded_session.scalar(select(Customer).where(Customer.mobile == "13885120001"))
    assert demo is not None and new_customer(seeded_session, "13885120001") == demo.id


def test_past_time_is_refused_with_future_alternatives(seeded_session: Session) -> None:
    problem = service.check_booking(seeded_session, draft=car(NOW - timedelta(hours=2)), now=NOW)
    assert problem is not None and problem.code == "past"
    assert problem.alternatives and all(slot >= NOW for slot in problem.alternatives)


def test_closed_hours_are_refused_with_open_alternatives(seeded_session: Session) -> None:
    problem = service.check_booking(seeded_session, draft=car(at(1, 22)), now=NOW)
    assert problem is not None and problem.code == "closed"
    assert problem.hours_text_zh
    for slot in problem.alternatives:
        local = slot.astimezone(TZ)
        assert (8, 30) <= (local.hour, local.minute) and local.hour < 19


def test_full_slot_offers_the_nearest_free_slots(seeded_session: Session) -> None:
    start = at(4, 11)
    customer_id = new_customer(seeded_session)
    for number in range(10):
        if service.check_booking(seeded_session, draft=car(start), now=NOW) is not None:
            break
        service.create_booking(
            seeded_session,
            draft=car(start, party_size=None).model_copy(update={"plate_number": f"贵B1234{number}"}),
            customer_id=customer_id,  # a fleet: another car each time (the same car twice is one booking)
            idempotency_key=f"fill-{number}",
            now=NOW,
        )
    problem = service.check_booking(seeded_session, draft=car(start), now=NOW)
    assert problem is not None and problem.code == "full"
    assert problem.alternatives
    for slot in problem.alternatives:
        assert service.check_booking(seeded_session, draft=car(slot), now=NOW) is None


@pytest.mark.parametrize(("party", "code", "limit"), [(100, "party_too_large", 20), (0, "party_too_small", 1)])
def test_impossible_party_sizes_are_refused(seeded_session: Session, party: int, code: str, limit: int) -> None:
    draft = BookingDraft(
        business_code="restaurant", store_code="gy-yy-food", start_at=at(1, 18), party_size=party, area="hall"
    )
    problem = service.check_booking(seeded_session, draft=draft, now=NOW)
    assert problem is not None and (problem.code, problem.limit) == (code, limit)


def test_restaurant_private_room_fits_the_party(seeded_session: Session) -> None:
    customer_id = new_customer(seeded_session)
    draft = BookingDraft(
        business_code="restaurant", store_code="gy-yy-food", start_at=at(1, 18), party_size=12, area="private_room"
    )
    result = service.create_booking(seeded_session, draft=draft, customer_id=customer_id, idempotency_key="r1", now=NOW)
    assert result.booking is not None
    assert (result.booking.service_code, result.booking.area) == ("private_room_medium", "private_room")


def test_hotel_cancellation_is_free_until_18_on_the_check_in_day(seeded_session: Session) -> None:
    customer_id = new_customer(seeded_session)
    draft = BookingDraft(
        business_code="hotel", store_code="gy-gsh-hotel", service_code="king", start_at=at(2, 0), nights=2, party_size=2
    )
    booking = service.create_booking(
        seeded_session, draft=draft, customer_id=customer_id, idempotency_key="h1", now=NOW
    ).booking
    assert booking is not None and booking.nights == 2
    assert booking.start_at.astimezone(TZ).hour == 14 and booking.end_at.astimezone(TZ).hour == 12
    before = service.cancellation_terms(
        seeded_session, booking_number=booking.booking_number, now=at(2, 17), customer_id=customer_id
    )
    after = service.cancellation_terms(
        seeded_session, booking_number=booking.booking_number, now=at(2, 19), customer_id=customer_id
    )
    assert before is not None and before.free
    assert after is not None and not after.free and after.fee_zh == "首晚房费"
    cancelled = service.cancel_booking(
        seeded_session, booking_number=booking.booking_number, now=at(2, 19), customer_id=customer_id
    )
    assert cancelled is not None and cancelled.booking.status == "cancelled" and not cancelled.free
    again = service.cancel_booking(
        seeded_session, booking_number=booking.booking_number, now=at(2, 19), customer_id=customer_id
    )
    assert again is not None and again.already_cancelled


def test_hotel_guests_beyond_the_room_are_refused(seeded_session: Session) -> None:
    draft = BookingDraft(
        business_code="hotel", store_code="gy-gsh-hotel", service_code="king", start_at=at(2, 0), nights=1, party_size=3
    )
    problem = service.check_booking(seeded_session, draft=draft, now=NOW)
    assert problem is not None and (problem.code, problem.limit) == ("party_too_large", 2)


def test_someone_elses_booking_is_neither_shown_nor_changed(seeded_session: Session) -> None:
    owner = new_customer(seeded_session, "13700003333")
    other = new_customer(seeded_session, "13700004444")
    booking = service.create_booking(
        seeded_session, draft=car(at(3, 10)), customer_id=owner, idempotency_key="o1", now=NOW
    ).booking
    assert booking is not None
    number = booking.booking_number
    assert service.get_booking(seeded_session, booking_number=number, mobile="13700004444") is None
    assert service.get_booking(seeded_session, booking_number=number, customer_id=other) is None
    assert service.get_booking(seeded_session, booking_number=number) is None
    assert service.cancel_booking(seeded_session, booking_number=number, now=NOW, customer_id=other) is None
    assert (
        service.modify_booking(seeded_session, booking_number=number, now=NOW, mobile="13700004444", changes={}) is None
    )
    assert service.get_booking(seeded_session, booking_number=number, mobile="13700003333") is not None


def test_modify_keeps_the_number_and_marks_the_booking_modified(seeded_session: Session) -> None:
    customer_id = new_customer(seeded_session)
    booking = service.create_booking(
        seeded_session, draft=car(at(3, 10)), customer_id=customer_id, idempotency_key="m1", now=NOW
    ).booking
    assert booking is not None
    preview = service.preview_booking_change(
        seeded_session,
        booking_number=booking.booking_number,
        now=NOW,
        customer_id=customer_id,
        changes={"start_at": at(3, 16, 30)},
    )
    assert preview is not None and preview.booking is not None and preview.booking.start_at == at(3, 16, 30)
    unchanged = service.get_booking(seeded_session, booking_number=booking.booking_number, customer_id=customer_id)
    assert unchanged is not None and unchanged.start_at == at(3, 10) and unchanged.status == "confirmed"
    result = service.modify_booking(
        seeded_session,
        booking_number=booking.booking_number,
        now=NOW,
        customer_id=customer_id,
        changes={"start_at": at(3, 16, 30)},
    )
    assert result is not None and result.problem is None and result.booking is not None
    assert result.booking.booking_number == booking.booking_number
    assert (result.booking.start_at, result.booking.status) == (at(3, 16, 30), "modified")
    closed = service.modify_booking(
        seeded_session,
        booking_number=booking.booking_number,
        now=NOW,
        customer_id=customer_id,
        changes={"start_at": at(3, 23)},
    )
    assert closed is not None and closed.problem is not None and closed.problem.code == "closed"


def test_upcoming_bookings_leave_out_cancelled_ones(seeded_session: Session) -> None:
    customer_id = new_customer(seeded_session, "13700005555")
    kept = service.create_booking(
        seeded_session, draft=car(at(5, 10)), customer_id=customer_id, idempotency_key="u1", now=NOW
    ).booking
    gone = service.create_booking(
        seeded_session, draft=car(at(6, 10)), customer_id=customer_id, idempotency_key="u2", now=NOW
    ).booking
    assert kept is not None and gone is not None
    service.cancel_booking(seeded_session, booking_number=gone.booking_number, now=NOW, customer_id=customer_id)
    upcoming = service.list_upcoming_bookings(seeded_session, customer_id=customer_id, now=NOW)
    assert [booking.booking_number for booking in upcoming] == [kept.booking_number]
