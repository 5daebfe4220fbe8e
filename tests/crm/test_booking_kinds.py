"""The three booking kinds on the seeded tenant: what each spans, and what each offers when it is full."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from crm.services import bookings as service
from crm.services.bookings import BookingDraft
from crm.services.bookings.kinds import KINDS
from crm.services.bookings.policy import get_booking_policy
from tests.crm.test_bookings_service import NOW, TZ, at, new_customer


def _fill(session: Session, draft: BookingDraft, customer_id: int, prefix: str, limit: int = 40) -> None:
    """Books `draft` until the store refuses it."""
    for number in range(limit):
        if service.check_booking(session, draft=draft, now=NOW) is not None:
            return
        service.create_booking(
            session, draft=draft, customer_id=customer_id, idempotency_key=f"{prefix}-{number}", now=NOW
        )


def test_every_business_in_the_policy_has_a_kind_with_behaviour() -> None:
    policy = get_booking_policy()
    assert {code: business.kind for code, business in policy.businesses.items()} == {
        "car_care": "appointment",
        "menswear": "appointment",
        "hotel": "stay",
        "restaurant": "table",
    }
    assert set(KINDS) == set(policy.kinds)


def test_an_appointment_spans_the_service_and_must_end_before_closing(seeded_session: Session) -> None:
    customer_id = new_customer(seeded_session)
    suit = BookingDraft(
        business_code="menswear", store_code="cd-cxl-suit", service_code="tailoring_suit", start_at=at(2, 15)
    )
    made = service.create_booking(seeded_session, draft=suit, customer_id=customer_id, idempotency_key="m1", now=NOW)
    assert made.booking is not None and made.booking.end_at - made.booking.start_at == timedelta(minutes=60)
    # A four-hour coating at 17:00 would end after the car wash closes at 19:00.
    late = BookingDraft(
        business_code="car_care", store_code="gy-hgy-car", service_code="ceramic_coating", start_at=at(2, 17)
    )
    problem = service.check_booking(seeded_session, draft=late, now=NOW)
    assert problem is not None and problem.code == "closed"
    assert all(start.astimezone(TZ).hour + 4 <= 19 for start in problem.alternatives)


def test_a_full_stay_offers_the_other_free_room_types(seeded_session: Session) -> None:
    customer_id = new_customer(seeded_session)
    suite = BookingDraft(
        business_code="hotel", store_code="gy-gsh-hotel", service_code="executive_suite", start_at=at(3, 12), nights=2
    )
    _fill(seeded_session, suite, customer_id, "suite")
    problem = service.check_booking(seeded_session, draft=suite, now=NOW)
    assert problem is not None and problem.code == "full" and not problem.alternatives
    assert "executive_suite" not in problem.alternative_services
    assert {"king", "twin"} <= set(problem.alternative_services)
    made = service.create_booking(
        seeded_session,
        draft=suite.model_copy(update={"service_code": problem.alternative_services[0]}),
        customer_id=customer_id,
        idempotency_key="suite-other",
        now=NOW,
    )
    assert made.booking is not None and made.booking.nights == 2  # from check-in 14:00 to check-out 12:00
    assert (made.booking.start_at.astimezone(TZ).hour, made.booking.end_at.astimezone(TZ).hour) == (14, 12)


def test_a_table_takes_the_next_room_that_fits_when_the_smallest_is_taken(seeded_session: Session) -> None:
    customer_id = new_customer(seeded_session)
    room = BookingDraft(
        business_code="restaurant", store_code="cd-jj-food", start_at=at(2, 18), party_size=14, area="private_room"
    )
    first = service.create_booking(seeded_session, draft=room, customer_id=customer_id, idempotency_key="t1", now=NOW)
    assert first.booking is not None and first.booking.service_code == "private_room_large"
    problem = service.check_booking(seeded_session, draft=room, now=NOW)  # the one large room is taken
    assert problem is not None and problem.code == "full" and problem.alternatives
    for start in problem.alternatives:
        assert service.check_booking(seeded_session, draft=room.model_copy(update={"start_at": start}), now=NOW) is None


def test_hall_tables_share_the_stores_capacity_but_private_rooms_do_not(seeded_session: Session) -> None:
    customer_id = new_customer(seeded_session)
    hall = BookingDraft(
        business_code="restaurant", store_code="gy-yy-food", start_at=at(5, 12), party_size=4, area="hall"
    )
    _fill(seeded_session, hall, customer_id, "hall")
    assert service.check_booking(seeded_session, draft=hall, now=NOW) is not None
    room = hall.model_copy(update={"party_size": 7, "area": "private_room"})
    assert service.check_booking(seeded_session, draft=room, now=NOW) is None
