"""Order status look-ups for the bot and the consoles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from crm.formatting import mask_mobile, mask_name
from crm.models import Customer, Order
from crm.repositories import OrderRepository
from crm.schemas import OrderEventOut, OrderItemOut, OrderOut
from crm.services.ownership import Requester


def _order_out(order: Order) -> OrderOut:
    return OrderOut(
        order_number=order.order_number,
        customer_id=order.customer_id,
        business_code=order.business.code,
        store_code=order.store.code if order.store is not None else None,
        store_name=order.store.name if order.store is not None else None,
        status=order.status,  # type: ignore[arg-type]
        amount=order.amount,
        carrier=order.carrier,
        tracking_number=order.tracking_number,
        masked_recipient_name=mask_name(order.recipient_name) if order.recipient_name else None,
        masked_recipient_mobile=mask_mobile(order.recipient_mobile) if order.recipient_mobile else None,
        shipping_city=order.shipping_city,
        estimated_delivery_date=order.estimated_delivery_date,
        placed_at=order.placed_at,
        items=[OrderItemOut.model_validate(item) for item in order.items],
        timeline=[OrderEventOut.model_validate(event) for event in order.events],
    )


def get_order_by_number(session: Session, *, order_number: str) -> OrderOut | None:
    """The order with this DD number (items and timeline included), or None."""
    order = OrderRepository(session).get_by_number(order_number.strip().upper())
    return _order_out(order) if order is not None else None


def list_orders_for_customer(session: Session, *, customer_id: int, limit: int = 5) -> list[OrderOut]:
    """The customer's most recent orders, newest first."""
    return [_order_out(order) for order in OrderRepository(session).list_for_customer(customer_id, limit)]


LookupOutcome = Literal["found", "not_found", "not_authorized"]


@dataclass(frozen=True)
class OrderLookup:
    """An order the requester may see, or why not. Callers show `not_authorized` exactly like `not_found`."""

    outcome: LookupOutcome
    order: OrderOut | None = None


def lookup_order_for_requester(
    session: Session, *, order_number: str, customer_id: int | None = None, mobile: str | None = None
) -> OrderLookup:
    """The order, only if it is the identified customer's own or `mobile` is the one on the order.

    The mobile on the order is the buyer's or the recipient's. Without an identity and a mobile, nothing is shown.
    """
    order = OrderRepository(session).get_by_number(order_number.strip().upper())
    if order is None:
        return OrderLookup("not_found")
    buyer_mobile = session.scalar(select(Customer.mobile).where(Customer.id == order.customer_id))
    allowed = Requester(customer_id, mobile).may_see(order.customer_id, buyer_mobile, order.recipient_mobile)
    return OrderLookup("found", _order_out(order)) if allowed else OrderLookup("not_authorized")


@dataclass(frozen=True)
class OrderGlance:
    """What a customer who gives only a mobile sees of an order: enough to recognise it (number, day, items)
    and to know where it stands (status). No amount, carrier, tracking number, recipient or address, and
    nothing about the customer (name, tier): those need the order number with the mobile, or an identity."""

    order_number: str
    placed_at: datetime
    status: str
    items: tuple[tuple[str, int], ...]  # (name, quantity)


def list_orders_for_mobile(session: Session, *, mobile: str, limit: int = 5) -> list[OrderGlance]:
    """The most recent orders whose buyer or recipient has `mobile`, newest first (the ownership rule's
    "the mobile on the row"). Callers limit how often a mobile may be looked up (actions/lookup_guard.py)."""
    requester = Requester(mobile=mobile)
    statement = (
        select(Order, Customer.mobile)
        .join(Customer, Customer.id == Order.customer_id)
        .where(or_(Customer.mobile == mobile, Order.recipient_mobile == mobile))
        .options(selectinload(Order.items))
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(limit)
    )
    return [
        OrderGlance(
            order_number=order.order_number,
            placed_at=order.placed_at,
            status=order.status,
            items=tuple((item.name, item.quantity) for item in order.items),
        )
        for order, buyer_mobile in session.execute(statement).tuples()
        if requester.may_see(order.customer_id, buyer_mobile, order.recipient_mobile)
    ]
