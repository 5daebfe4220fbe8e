"""Greeting: by name for a customer the channel identified."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots


class ActionGreet(Action):
    """Runs when the customer greets."""

    def name(self) -> str:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        title = tracker.get_slot(slots.CUSTOMER_TITLE)
        if title:
            dispatcher.utter_message(response="utter_greet_customer", customer_title=title)
        else:
            dispatcher.utter_message(response="utter_greet")
        return []
