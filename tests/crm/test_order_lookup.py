"""Order look-ups respect privacy: own orders, or the mobile on the order, nothing else."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.enums import ORDER_STATUSES
from crm.formatting import order_status_label
from crm.models import Customer, Order
from crm.services.orders import list_orders_for_mobile, lookup_order_for_requester


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


def test_a_mobile_alone_lists_the_orders_of_its_buyer_or_recipient_newest_first(seeded_session: Session) -> None:
    order = seeded_session.scalars(
        select(Order).where(Order.recipient_mobile.is_not(None)).order_by(Order.id.desc())
    ).first()
    buyer = seeded_session.get(Customer, order.customer_id)
    stranger = seeded_session.scalars(select(Customer).where(Customer.id != buyer.id).order_by(Customer.id)).first()
    order.recipient_mobile = stranger.mobile  # the stranger received this order as a gift
    seeded_session.flush()

    buyers = list_orders_for_mobile(seeded_session, mobile=buyer.mobile, limit=50)
    own = seeded_session.scalars(select(Order).where(Order.customer_id == buyer.id)).all()
    assert {glance.order_number for glance in buyers} == {o.order_number for o in own}
    assert [glance.placed_at for glance in buyers] == sorted((g.placed_at for g in buyers), reverse=True)

    recipients = {glance.order_number for glance in list_orders_for_mobile(seeded_session, mobile=stranger.mobile)}
    assert order.order_number in recipients
    assert list_orders_for_mobile(seeded_session, mobile="19999999999") == []


def test_a_mobile_alone_reveals_no_amount_address_tracking_or_customer(seeded_session: Session) -> None:
    buyer = seeded_session.scalars(select(Customer).where(Customer.web_user_id == "demo-gold")).one()
    glance = list_orders_for_mobile(seeded_session, mobile=buyer.mobile, limit=1)[0]
    assert set(vars(glance)) == {"order_number", "placed_at", "status", "items"}
    assert all(isinstance(name, str) and quantity > 0 for name, quantity in glance.items)
