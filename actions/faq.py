"""FAQ answers from the CRM: ops edit an answer and the next message serves it, no retraining."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.crm import in_session
from crm.services import faq

logger = logging.getLogger(__name__)
RETRIEVAL_INTENT = "faq"


def predicted_faq_key(latest_message: dict[str, Any]) -> str | None:
    """'business_hours' from the ResponseSelector's 'faq/business_hours' prediction."""
    selector = (latest_message.get("response_selector") or {}).get(RETRIEVAL_INTENT) or {}
    response_key = (selector.get("response") or {}).get("intent_response_key") or ""
    prefix = f"{RETRIEVAL_INTENT}/"
    return response_key[len(prefix) :] if response_key.startswith(prefix) else None


def latest_entity_value(tracker: Tracker, entity: str) -> str | None:
    values = list(tracker.get_latest_entity_values(entity))
    return str(values[0]) if values else None


class ActionAnswerFaq(Action):
    """Runs when the customer asks a frequently asked question (retrieval intent `faq`)."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        key = predicted_faq_key(tracker.latest_message)
        business = latest_entity_value(tracker, slots.BUSINESS) or tracker.get_slot(slots.BUSINESS)
        answer = await in_session(faq.get_answer, key=key, business_code=business) if key else None
        if answer is None:
            logger.warning("No FAQ answer for key %r (business %r)", key, business)
            dispatcher.utter_message(response="utter_faq_unavailable")
            return []
        dispatcher.utter_message(text=answer.answer_zh)
        return []
