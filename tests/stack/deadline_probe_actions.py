"""A test-only action package: its one action tells whether the call's commit deadline has passed."""

from __future__ import annotations

import time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.server import _commit_deadline

DEADLINE_PROBE = "action_deadline_probe"


class ActionDeadlineProbe(Action):
    def name(self) -> str:
        return DEADLINE_PROBE

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[Any]:
        deadline = _commit_deadline.get()
        dispatcher.utter_message(text="past" if deadline is not None and time.monotonic() > deadline else "in time")
        return []
