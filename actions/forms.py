"""Behaviour every form shares: count invalid answers and offer a person after the third."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

INVALID_ATTEMPTS = "invalid_attempts"
MAX_INVALID_ATTEMPTS = 3


def reject(
    dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, response: str, **values: Any
) -> dict[str, Any]:
    """Explains what is wrong (`response`), asks again, and offers a person from the third failure on."""
    attempts = int(tracker.get_slot(INVALID_ATTEMPTS) or 0) + 1
    dispatcher.utter_message(response=response, **values)
    if attempts >= MAX_INVALID_ATTEMPTS:
        dispatcher.utter_message(response="utter_offer_human")
    return {slot: None, INVALID_ATTEMPTS: attempts}


def accept(slot: str, value: Any) -> dict[str, Any]:
    """A valid answer: keep it and reset the failure count."""
    return {slot: value, INVALID_ATTEMPTS: 0}
