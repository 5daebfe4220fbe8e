"""Order status: by order number (own orders, or with the mobile on the order), "my orders", or, for an
anonymous customer without a number ("没有订单号"), the orders of the mobile they ordered with.

What each path shows: an identified customer and a number with its mobile see the order in full (status,
items, amount, timeline, carrier); a mobile alone shows only each order's number, day, items and status
(`crm.services.orders.OrderGlance`) and is rate-limited per mobile and per conversation
(`actions/lookup_guard.py`), so knowing someone's mobile reveals no amounts, addresses, tracking numbers
or anything about the customer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm import in_read_only_session
from actions.forms import Form, MobileMixin, Turn, accept, identified_customer_id, reject, says_it_has_no_number
from actions.lookup_guard import lookup_allowed, record_failed_lookup, take_mobile_lookup
from actions.normalize import find_mobile, find_order_number
from actions.wording import fill
from crm.enums import SHIPPED_STATUSES
from crm.formatting import day_text, local_time, mask_mobile, order_status_label
from crm.schemas import OrderOut
from crm.services import orders

ORDER_ID = "order_id"
PHONE = "phone"
# An anonymous customer without an order number: the form asks only for the mobile the order was placed with.
BY_MOBILE = "order_lookup_by_mobile"
RECENT_ORDERS_SHOWN = 5


def _items(items: Iterable[tuple[str, int]]) -> str:
    return "、".join(f"{name}×{quantity}" for name, quantity in items)


def describe_order(order: OrderOut, domain: DomainDict) -> dict[str, str]:
    """Template values for utter_order_status: status, items, timeline and delivery lines."""
    timeline = "\n".join(
        fill(
            domain,
            "utter_order_part_event",
            time=local_time(event.occurred_at).strftime("%m-%d %H:%M"),
            label=order_status_label(event.status),
        )
        for event in order.timeline
    )
    delivery: list[str] = []
    if (order.status in SHIPPED_STATUSES or order.status == "delivered") and order.carrier:
        delivery.append(
            fill(
                domain,
                "utter_order_part_shipping",
                carrier=order.carrier,
                tracking_number=order.tracking_number or "",
            )
        )
    if order.status in SHIPPED_STATUSES and order.estimated_delivery_date:
        delivery.append(fill(domain, "utter_order_part_eta", date=day_text(order.estimated_delivery_date)))
    items = _items((item.name, item.quantity) for item in order.items)
    return {
        "order_number": order.order_number,
        "status_label": order_status_label(order.status),
        "items": items,
        "amount": f"{order.amount:.2f}",
        "timeline": timeline,
        "delivery": "\n".join(delivery),
    }


# The order just shown: "这单…我要投诉" right after means it.
LAST_ORDER = "last_order"


class ValidateOrderLookupForm(MobileMixin, Form):
    """Collects the order number and, for customers the channel did not identify, the mobile on the order;
    an anonymous customer who has no number ("没有订单号", or a mobile where the number was asked) is asked
    only for the mobile the order was placed with."""

    def name(self) -> str:
        return "validate_order_lookup_form"

    async def asked_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[str]:
        if identified_customer_id(tracker) is not None:
            # An identified customer without a number gets their recent orders; no mobile is ever asked.
            return []
        if tracker.get_slot(BY_MOBILE) and not tracker.get_slot(ORDER_ID):
            return [PHONE]
        return [ORDER_ID, PHONE]

    def read_anytime(self, tracker: Tracker) -> list[str]:
        return [BY_MOBILE] if identified_customer_id(tracker) is None else []

    async def extract_order_lookup_by_mobile(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """True when the customer says they have no number, or answers the number question with a mobile;
        None again as soon as a number is given."""
        turn = Turn.of(tracker)
        if find_order_number(turn.text, allow_bare=True) or tracker.get_slot(ORDER_ID):
            return {BY_MOBILE: None} if tracker.get_slot(BY_MOBILE) else {}
        if says_it_has_no_number(turn.text) or (turn.requested_slot == ORDER_ID and find_mobile(turn.text)):
            return {BY_MOBILE: True}
        return {}

    async def extract_order_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Reads the number from free text too: 'DD 2026 1120 0017', full-width digits, the bare 12 digits."""
        # Bare 12 digits are read too: the pattern is a date plus a sequence, so a mobile never matches it.
        found = find_order_number(tracker.latest_message.get("text", ""), allow_bare=True)
        return {ORDER_ID: found} if found else {}

    def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = find_order_number(str(value or ""))
        if number is None:
            return reject(dispatcher, tracker, ORDER_ID, "utter_invalid_order_id")
        return accept(ORDER_ID, number)

    async def extract_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.read_mobile(tracker)

    def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        mobile, events = self.reject_mobile(value, dispatcher, tracker)
        return accept(PHONE, mobile) if mobile else events


class ActionCheckOrderStatus(Action):
    """Runs when order_lookup_form is complete: shows the order, or the identified customer's recent orders."""

    def name(self) -> str:
        return "action_check_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        customer_id = identified_customer_id(tracker)
        order_number = find_order_number(str(tracker.get_slot(ORDER_ID) or "")) or find_order_number(
            tracker.latest_message.get("text", ""), allow_bare=True
        )
        done: list[EventType] = [SlotSet(ORDER_ID, None), SlotSet(BY_MOBILE, None)]
        if order_number is None:
            mobile = find_mobile(str(tracker.get_slot(PHONE) or ""))
            if customer_id is not None:
                await self._list_recent(dispatcher, domain, customer_id)
            elif tracker.get_slot(BY_MOBILE) and mobile is not None:
                return done + await self._list_for_mobile(dispatcher, tracker, domain, mobile)
            else:
                dispatcher.utter_message(response="utter_ask_order_id")
            return done

        proving_by_mobile = customer_id is None
        if proving_by_mobile and not lookup_allowed(tracker.sender_id, order_number):
            dispatcher.utter_message(response="utter_order_lookup_limited", order_number=order_number)
            return done
        result = await in_read_only_session(
            orders.lookup_order_for_requester,
            order_number=order_number,
            customer_id=customer_id,
            mobile=None if customer_id is not None else tracker.get_slot(PHONE),
        )
        if result.order is None:
            if proving_by_mobile:
                record_failed_lookup(tracker.sender_id, order_number)
            # Not found and not yours read the same: nobody learns that someone else's order exists.
            dispatcher.utter_message(response="utter_order_not_found", order_number=order_number)
            return done
        dispatcher.utter_message(response="utter_order_status", **describe_order(result.order, domain))
        return [*done, SlotSet(LAST_ORDER, result.order.order_number)]

    @staticmethod
    async def _list_for_mobile(
        dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, mobile: str
    ) -> list[EventType]:
        """The orders of `mobile`, each only as much as `OrderGlance` holds; limited per mobile and conversation."""
        masked = mask_mobile(mobile)
        if not take_mobile_lookup(tracker.sender_id, mobile):
            dispatcher.utter_message(response="utter_orders_by_mobile_limited")
            return []
        found = await in_read_only_session(orders.list_orders_for_mobile, mobile=mobile, limit=RECENT_ORDERS_SHOWN)
        if not found:
            dispatcher.utter_message(response="utter_no_orders_for_mobile", masked_mobile=masked)
            return []
        lines = "\n".join(
            fill(
                domain,
                "utter_order_part_glance",
                order_number=order.order_number,
                day=day_text(order.placed_at),
                items=_items(order.items),
                status_label=order_status_label(order.status),
            )
            for order in found
        )
        # A button asks for that order in full: the mobile is already in the conversation, so the number and
        # its mobile are checked as for any anonymous look-up.
        buttons = [_order_button(order.order_number, order.status) for order in found]
        dispatcher.utter_message(
            response="utter_orders_of_mobile", buttons=buttons, masked_mobile=masked, count=len(found), orders=lines
        )
        return [SlotSet(LAST_ORDER, found[0].order_number)] if len(found) == 1 else []

    @staticmethod
    async def _list_recent(dispatcher: CollectingDispatcher, domain: DomainDict, customer_id: int) -> None:
        recent = await in_read_only_session(
            orders.list_orders_for_customer, customer_id=customer_id, limit=RECENT_ORDERS_SHOWN
        )
        if not recent:
            dispatcher.utter_message(response="utter_no_orders")
            return
        buttons = [_order_button(order.order_number, order.status) for order in recent]
        dispatcher.utter_message(response="utter_recent_orders", buttons=buttons, count=len(recent))


def _order_button(order_number: str, status: str) -> dict[str, str]:
    return {
        "title": f"{order_number} {order_status_label(status)}",
        "payload": f'/order_status{{"order_id": "{order_number}"}}',
    }
