"""转人工 and leaving a message instead: counted per conversation and decided by the CRM (actions/escalation.py).

Counters (explicit requests, the mobile question) live in slots keyed by the conversation they were counted
in, so a new conversation starts from zero. Asking from inside a form ends the form, and a complaint being
described is filed first, so nothing under way is lost by the transfer.
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import complaints as complaint_actions
from actions.crm import in_session
from actions.escalation import (
    conversation_id_of,
    end_active_form,
    leave_message,
    request_handoff,
    utter_contact,
    utter_decision,
)
from actions.forms import identified_customer_id
from actions.normalize import find_mobile
from crm.services import complaint_rules, queue
from crm.services.escalation_rules import Counters, Signal

HANDOFF_CONVERSATION = "handoff_conversation_id"
HANDOFF_REQUESTS = "handoff_requests"
HANDOFF_MOBILE_ASKED = "handoff_mobile_asked"
# True right after the bot asked an unidentified customer for a mobile: the next message may be the answer.
HANDOFF_AWAITING_MOBILE = "handoff_awaiting_mobile"


def _count(tracker: Tracker, slot: str, conversation_id: int) -> int:
    """A counter slot's value in this conversation (0 when it was counted in another one)."""
    if tracker.get_slot(HANDOFF_CONVERSATION) != str(conversation_id):
        return 0
    return int(tracker.get_slot(slot) or 0)


async def complaint_under_way(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
) -> tuple[list[EventType], str | None]:
    """A complaint being described when the customer asks for a person is filed first when it can be (its TS
    number is said); otherwise what was collected is returned as a note for the agent. (events, note)"""
    description = tracker.get_slot(complaint_actions.DESCRIPTION)
    if not description or tracker.get_slot(complaint_actions.TICKET_ID):
        return [], None
    category = tracker.get_slot(complaint_actions.CATEGORY) or complaint_rules.infer_category(description)
    reachable = identified_customer_id(tracker) is not None or find_mobile(
        str(tracker.get_slot(complaint_actions.PHONE) or "")
    )
    if category in complaint_rules.load_rules().category_codes() and reachable:
        filled = tracker.copy()
        filled.slots[complaint_actions.CATEGORY] = category
        events = await complaint_actions.submit_complaint(dispatcher, filled, escalate=False)
        return events, None
    collected = f"complaint under way (not filed): {description}" + (f" [category: {category}]" if category else "")
    return [SlotSet(name, None) for name in complaint_actions.FORM_SLOTS], collected


class ActionRequestHuman(Action):
    """The customer asks for a person (转人工): counted per conversation and decided by the tier rules."""

    def name(self) -> str:
        return "action_request_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        events = end_active_form(tracker)
        conversation_id = conversation_id_of(tracker)
        if conversation_id is None:
            await utter_contact(dispatcher)
            return events
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        mobile = find_mobile(str(tracker.latest_message.get("text") or ""))
        if intent != "request_human" and not (tracker.get_slot(HANDOFF_AWAITING_MOBILE) and mobile):
            # Not the mobile we asked for: the message is answered as any other, and nothing is counted.
            return [*events, SlotSet(HANDOFF_AWAITING_MOBILE, False), FollowupAction("action_route_unclaimed")]
        filed, note = await complaint_under_way(dispatcher, tracker, domain)
        events += filed
        requests = _count(tracker, HANDOFF_REQUESTS, conversation_id) + (intent == "request_human")
        mobile_asked = _count(tracker, HANDOFF_MOBILE_ASKED, conversation_id)
        counters = Counters(explicit_requests=requests, mobile_asked=mobile_asked)
        result = await request_handoff(tracker, conversation_id, Signal("explicit_request"), counters)
        if result is None:
            await utter_contact(dispatcher)
            return events
        notes = [note] if note else []
        if mobile:
            notes.append(f"mobile given by the customer (not verified): {mobile}")
        escalation_id = result.escalation.id if result.escalation is not None else None
        for text in notes if escalation_id is not None else []:
            await in_session(queue.add_note, escalation_id=escalation_id, author="bot", text=text)
        if result.action == "ticket":  # the rules file a call-back instead of a person (e.g. lead, off hours)
            await leave_message(dispatcher, tracker, conversation_id, reason=result.reason)
        else:
            utter_decision(dispatcher, result)
        events += [
            SlotSet(HANDOFF_CONVERSATION, str(conversation_id)),
            SlotSet(HANDOFF_REQUESTS, float(requests)),
            SlotSet(HANDOFF_MOBILE_ASKED, float(mobile_asked + (result.action == "ask_mobile"))),
            SlotSet(HANDOFF_AWAITING_MOBILE, result.action == "ask_mobile"),
        ]
        return events


class ActionLeaveMessage(Action):
    """The customer leaves a message instead of waiting: a call-back due when agents are next on duty."""

    def name(self) -> str:
        return "action_leave_message"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        events = end_active_form(tracker)
        conversation_id = conversation_id_of(tracker)
        if conversation_id is None:
            await utter_contact(dispatcher)
            return events
        await leave_message(dispatcher, tracker, conversation_id, reason="customer chose to leave a message")
        return events
