"""Messages no flow claimed (inform, out of scope, low confidence): a number in them is a lookup.

A customer who types only "DD 2026 1128 0016", "YY202612020001" or "TS202611200003" wants that order,
booking or ticket, whatever the intent classifier made of it. Right after a booking, a message that only
names a new time or party ("改到五点吧", "再加一个人") changes that booking. A message that describes a visit
(a business or service and a day or time: "明天下午4点花果园精洗") starts a booking. Anything else gets the
intent's own reply, unless the tier rules hand the conversation to a person: an upset customer or a run of
messages the bot did not understand (policy/escalation.yml `negative_sentiment`, `consecutive_fallbacks`).
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import datetimes
from actions.bookings import LAST_BOOKING, names_a_change, names_a_visit
from actions.escalation import FALLBACK_INTENTS, consecutive_fallbacks, escalate_on_signal, is_upset
from actions.forms import says_cancel
from actions.normalize import find_booking_number, find_order_number, find_ticket_number
from crm.services.escalation_rules import Counters, Signal

# What each unclaimed intent gets when the message names no number.
REPLY_FOR_INTENT = {
    "inform": "utter_ack_inform",
    "out_of_scope": "utter_out_of_scope",
    "nlu_fallback": "utter_ask_rephrase",
}


def lookup_for(text: str) -> list[EventType]:
    """The form (and its first slot) for a number in `text`; empty when there is none."""
    if booking := find_booking_number(text, allow_bare=False):
        return [SlotSet("booking_id", booking), FollowupAction("booking_status_form")]
    if ticket := find_ticket_number(text, allow_bare=False):
        return [SlotSet("ticket_id", ticket), FollowupAction("complaint_status_form")]
    if order := find_order_number(text, allow_bare=True):
        return [SlotSet("order_id", order), FollowupAction("order_lookup_form")]
    return []


class ActionRouteUnclaimed(Action):
    def name(self) -> str:
        return "action_route_unclaimed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        events = lookup_for(text)
        if events:
            return events
        if tracker.get_slot(LAST_BOOKING) and names_a_change(text, datetimes.now()):
            return [FollowupAction("modify_booking_form")]
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        if intent != "out_of_scope" and names_a_visit(
            text, tracker.latest_message.get("entities") or [], datetimes.now()
        ):
            return [FollowupAction("booking_form")]
        handed_over = await self._escalate(dispatcher, tracker, text, intent)
        if handed_over is not None:
            return handed_over
        dispatcher.utter_message(response=REPLY_FOR_INTENT.get(intent, "utter_ask_rephrase"))
        return []

    @staticmethod
    async def _escalate(
        dispatcher: CollectingDispatcher, tracker: Tracker, text: str, intent: str
    ) -> list[EventType] | None:
        """An upset customer (gold escalates) or a run of messages the bot did not understand (platinum at the
        first, gold at 2, iron at 3 in a row): the tier rules in policy/escalation.yml decide."""
        if is_upset(text):
            events = await escalate_on_signal(dispatcher, tracker, Signal("negative_sentiment"), Counters())
            if events is not None:
                return events
        if intent in FALLBACK_INTENTS:
            streak = Counters(consecutive_fallbacks=consecutive_fallbacks(tracker))
            return await escalate_on_signal(dispatcher, tracker, Signal("fallback"), streak)
        return None


class ActionAnswerDeny(Action):
    """A "no" outside any form. Right after a booking was made or changed, a no that names cancelling
    ("算了 取消吧") means that booking: the cancel form takes it (and asks to confirm); else an acknowledgement."""

    def name(self) -> str:
        return "action_answer_deny"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if tracker.get_slot(LAST_BOOKING) and says_cancel(tracker.latest_message.get("text") or ""):
            return [FollowupAction("cancel_booking_form")]
        dispatcher.utter_message(response="utter_ack_deny")
        return []
