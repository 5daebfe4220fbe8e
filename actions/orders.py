"""Order status: by order number (own orders, or with the mobile on the order) or "my orders"."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.crm import in_read_only_session
from actions.forms import Form, MobileMixin, accept, reject
from actions.lookup_guard import lookup_allowed, record_failed_lookup
from actions.normalize import find_order_number
from actions.wording import fill
from core.settings import get_settings
from crm.enums import SHIPPED_STATUSES
from crm.formatting import order_status_label
from crm.schemas import OrderOut
from crm.services import orders

ORDER_ID = "order_id"
PHONE = "phone"
RECENT_ORDERS_SHOWN = 5


def _identified_customer_id(tracker: Tracker) -> int | None:
    if not tracker.get_slot(slots.CUSTOMER_IDENTIFIED):
        return None
    value = tracker.get_slot(slots.CUSTOMER_ID)
    return int(value) if value else None


def _local(moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(get_settings().timezone))


def describe_order(order: OrderOut, domain: DomainDict) -> dict[str, str]:
    """Template values for utter_order_status: status, items, timeline and delivery lines."""
    timeline = "\n".join(
        fill(
            domain,
            "utter_order_part_event",
            time=_local(event.occurred_at).strftime("%m-%d %H:%M"),
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
        delivery.append(fill(domain, "utter_order_part_eta", date=order.estimated_delivery_date.strftime("%m月%d日")))
    items = "、".join(f"{item.name}×{item.quantity}" for item in order.items)
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
    """Collects the order number and, for customers the channel did not identify, the mobile on the order."""

    def name(self) -> str:
        return "validate_order_lookup_form"

    async def asked_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[str]:
        if _identified_customer_id(tracker) is not None:
            # An identified customer without a number gets their recent orders; no mobile is ever asked.
            return []
        return [ORDER_ID, PHONE]

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
        customer_id = _identified_customer_id(tracker)
        order_number = find_order_number(str(tracker.get_slot(ORDER_ID) or "")) or find_order_number(
            tracker.latest_message.get("text", ""), allow_bare=True
        )
        if order_number is None:
            if customer_id is None:
                dispatcher.utter_message(response="utter_ask_order_id")
                return [SlotSet(ORDER_ID, None)]
            await self._list_recent(dispatcher, domain, customer_id)
            return [SlotSet(ORDER_ID, None)]

        proving_by_mobile = customer_id is None
        if proving_by_mobile and not lookup_allowed(tracker.sender_id, order_number):
            dispatcher.utter_message(response="utter_order_lookup_limited", order_number=order_number)
            return [SlotSet(ORDER_ID, None)]
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
            return [SlotSet(ORDER_ID, None)]
        dispatcher.utter_message(response="utter_order_status", **describe_order(result.order, domain))
        return [SlotSet(ORDER_ID, None), SlotSet(LAST_ORDER, result.order.order_number)]

    @staticmethod
    async def _list_recent(dispatcher: CollectingDispatcher, domain: DomainDict, customer_id: int) -> None:
        recent = await in_read_only_session(
            orders.list_orders_for_customer, customer_id=customer_id, limit=RECENT_ORDERS_SHOWN
        )
        if not recent:
            dispatcher.utter_message(response="utter_no_orders")
            return
        buttons = [
            {
                "title": f"{order.order_number} {order_status_label(order.status)}",
                "payload": f'/order_status{{"order_id": "{order.order_number}"}}',
            }
            for order in recent
        ]
        dispatcher.utter_message(response="utter_recent_orders", buttons=buttons, count=len(recent))
