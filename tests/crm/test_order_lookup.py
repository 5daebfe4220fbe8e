"""Order look-ups respect privacy: own orders, or the mobile on the order, nothing else."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.enums import ORDER_STATUSES
from crm.formatting import order_status_label
from crm.models import Customer, Order
from crm.services.orders import lookup_order_for_requester


def _an_order_with_buyer(session: Session) -> tuple[Order, Customer, Customer]:
    order = session.scalars(select(Order).order_by(Order.id)).first()
    buyer = session.get(Customer, order.customer_id)
    stranger = session.scalars(select(Customer).where(Customer.id != buyer.id).order_by(Customer.id)).first()
    return order, buyer, stranger


def test_identified_customer_sees_own_order(seeded_session: Session) -> None:
    order, buyer, _ = _an_order_with_buyer(seeded_session)
    result = lookup_order_for_requester(seeded_session, order_number=order.order_number, customer_id=buyer.id)
    assert result.outcome == "found"
    assert result.order.order_number == order.order_number


def test_identified_customer_never_sees_someone_elses_order(seeded_session: Session) -> None:
    order, _, stranger = _an_order_with_buyer(seeded_session)
    result = lookup_order_for_requester(seeded_session, order_number=order.order_number, customer_id=stranger.id)
    assert result.outcome == "not_authorized" and result.order is None


def test_anonymous_requester_needs_the_mobile_on_the_order(seeded_session: Session) -> None:
    order, buyer, stranger = _an_order_with_buyer(seeded_session)
    ok = lookup_order_for_requester(seeded_session, order_number=order.order_number, mobile=buyer.mobile)
    wrong = lookup_order_for_requester(seeded_session, order_number=order.order_number, mobile=stranger.mobile)
    none = lookup_order_for_requester(seeded_session, order_number=order.order_number)
    assert ok.outcome == "found"
    assert wrong.outcome == "not_authorized" and wrong.order is None
    assert none.outcome == "not_authorized"


def test_recipient_mobile_also_unlocks_the_order(seeded_session: Session) -> None:
    order = seeded_session.scalars(select(Order).where(Order.recipient_mobile.is_not(None))).first()
    result = lookup_order_for_requester(seeded_session, order_number=order.order_number, mobile=order.recipient_mobile)
    assert result.outcome == "found"


def test_unknown_number_is_not_found(seeded_session: Session) -> None:
    assert (
        lookup_order_for_requester(seeded_session, order_number="DD209901010001", customer_id=1).outcome == "not_found"
    )


def test_lower_case_number_is_accepted(seeded_session: Session) -> None:
    order, buyer, _ = _an_order_with_buyer(seeded_session)
    result = lookup_order_for_requester(seeded_session, order_number=order.order_number.lower(), customer_id=buyer.id)
    assert result.outcome == "found"


def test_every_order_status_has_a_chinese_label() -> None:
    labels = [order_status_label(status) for status in ORDER_STATUSES]
    assert all(labels) and len(set(labels)) == len(labels)
