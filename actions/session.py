"""Session start: loads who the customer is from the CRM, using the metadata the hub sends."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.crm import in_read_only_session
from crm.formatting import customer_title
from crm.schemas import CustomerOut
from crm.services import customers

logger = logging.getLogger(__name__)
SESSION_START_INTENT = "session_start"


def _customer_id_from(metadata: Any) -> int | None:
    if not isinstance(metadata, dict):
        return None
    value = metadata.get("customer_id")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def profile_events(customer: CustomerOut | None) -> list[EventType]:
    """Slot events describing the customer, or clearing the profile for an anonymous visitor."""
    if customer is None:
        return [SlotSet(name, None) for name in slots.PROFILE_SLOTS if name != slots.CUSTOMER_IDENTIFIED] + [
            SlotSet(slots.CUSTOMER_IDENTIFIED, False)
        ]
    return [
        SlotSet(slots.CUSTOMER_ID, str(customer.id)),
        SlotSet(slots.CUSTOMER_NAME, customer.name),
        SlotSet(slots.CUSTOMER_TITLE, customer_title(customer.name, customer.gender)),
        SlotSet(slots.CUSTOMER_TIER, customer.tier),
        SlotSet(slots.CUSTOMER_IDENTIFIED, True),
    ]


class ActionSessionStart(Action):
    """Runs when a conversation session starts (first message, or after the session expired)."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        if domain.get("session_config", {}).get("carry_over_slots_to_new_session", True):
            events.extend(
                SlotSet(name, value)
                for name, value in tracker.current_slot_values().items()
                if value is not None and name not in slots.PROFILE_SLOTS and name != slots.SESSION_STARTED_METADATA
            )
        customer_id = _customer_id_from(tracker.get_slot(slots.SESSION_STARTED_METADATA))
        latest = tracker.latest_message or {}
        if (latest.get("intent") or {}).get("name") == SESSION_START_INTENT:
            # An explicit /session_start (the hub's, when a visitor logs in mid-conversation) carries the new
            # metadata on the message itself: Rasa fills session_started_metadata only for sessions it starts.
            customer_id = _customer_id_from(latest.get("metadata")) or customer_id
        customer = None
        if customer_id is not None:
            customer = await in_read_only_session(customers.get_customer, customer_id=customer_id)
            if customer is None:
                logger.warning("Session metadata names unknown customer %s", customer_id)
        events.extend(profile_events(customer))
        events.append(ActionExecuted("action_listen"))
        return events
