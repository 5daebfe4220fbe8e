"""Interim answer to 转人工 until the live agent console lands: the CRM's own contact facts, never a copy.

The hotline and its hours are read from the CRM's `contact` FAQ answer (what ops edit), so this line can
never contradict the FAQ. Replace the rule in data/rules/interim.yml with the real hand-off when it lands.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm import in_read_only_session
from crm.services import faq

CONTACT_FAQ_KEY = "contact"


class ActionInterimRequestHuman(Action):
    def name(self) -> str:
        return "action_interim_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        answer = await in_read_only_session(faq.get_answer, key=CONTACT_FAQ_KEY)
        if answer is None:
            dispatcher.utter_message(response="utter_interim_request_human_no_contact")
        else:
            dispatcher.utter_message(response="utter_interim_request_human", contact=answer.answer_zh)
        return []
