"""The bot's side of a hand-off, shared by 转人工 (actions/handoff.py) and the complaint trigger
(actions/complaints.py): ask the CRM queue (policy/escalation.yml per tier) and tell the customer.

The hub sends `conversation_id` in every message's metadata; the decision, the queue and the wait estimate are
the CRM's (`queue.request_handoff`), and the facts the customer is told (hotline, service hours) come from the
CRM's service desk, never from this file or domain.yml.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.crm import in_read_only_session, in_session
from crm.errors import NotFoundError
from crm.formatting import moment_text
from crm.services import queue, sentiment
from crm.services.escalation_rules import (
    Counters,
    ServiceDeskHours,
    Signal,
    complaint_severity,
    load_escalation_rules,
    load_service_desk,
)

logger = logging.getLogger(__name__)

REQUESTED_SLOT = "requested_slot"
BUSINESS = "business"


def conversation_id_of(tracker: Tracker) -> int | None:
    """The hub's conversation id from the latest message's metadata (None outside the hub, e.g. rasa shell)."""
    metadata = tracker.latest_message.get("metadata") or {}
    value = metadata.get("conversation_id") if isinstance(metadata, dict) else None
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def end_active_form(tracker: Tracker) -> list[EventType]:
    """Escalating from inside a form ends it, so nothing stale is active when the bot gets the conversation
    back (RasaHQ/rasa#8119)."""
    if not (tracker.active_loop or {}).get("name"):
        return []
    return [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]


def minutes(seconds: int) -> int:
    return max(1, -(-seconds // 60))


def utter_decision(dispatcher: CollectingDispatcher, result: queue.HandoffResult) -> None:
    """Tell the customer what the CRM decided (wording in domain.yml, facts from the CRM)."""
    facts = {"hotline": result.hotline, "service_hours": result.service_hours_text_zh}
    if result.action == "escalate":
        position = result.position
        if position is None:  # already with an agent
            dispatcher.utter_message(response="utter_handoff_with_agent")
            return
        dispatcher.utter_message(
            response="utter_handoff_queued",
            ahead=position.ahead,
            wait_minutes=minutes(position.estimated_wait_seconds),
        )
    elif result.action == "offer_leave_message":
        dispatcher.utter_message(response="utter_handoff_offer_leave_message", **facts)
    elif result.action == "ask_mobile":
        dispatcher.utter_message(response="utter_handoff_ask_mobile")
    else:  # stay_with_bot
        dispatcher.utter_message(response="utter_handoff_bot_keeps_helping", **facts)


async def request_handoff(
    tracker: Tracker, conversation_id: int, signal: Signal, counters: Counters
) -> queue.HandoffResult | None:
    """The CRM's decision (and the queueing) for `signal`; None when the conversation is unknown to the CRM."""
    try:
        return await in_session(
            queue.request_handoff,
            conversation_id=conversation_id,
            signal=signal,
            counters=counters,
            business_code=tracker.get_slot(BUSINESS),
        )
    except NotFoundError:
        logger.warning("Hand-off asked for unknown conversation %s (%s)", conversation_id, tracker.sender_id)
        return None


async def utter_contact(dispatcher: CollectingDispatcher) -> None:
    """Outside the hub nothing can be queued: the customer gets the CRM's hotline and hours."""
    desk: ServiceDeskHours = await in_read_only_session(load_service_desk)
    dispatcher.utter_message(response="utter_handoff_contact", hotline=desk.hotline, service_hours=desk.text_zh)


async def leave_message(
    dispatcher: CollectingDispatcher, tracker: Tracker, conversation_id: int, *, reason: str
) -> None:
    """Record the call-back (closing a wait in the queue) and tell the customer when to expect it."""
    try:
        callback = await in_session(
            queue.leave_message,
            conversation_id=conversation_id,
            reason=reason,
            business_code=tracker.get_slot(BUSINESS),
        )
    except queue.EscalationClosedError:
        dispatcher.utter_message(response="utter_handoff_with_agent")
        return
    except NotFoundError:
        await utter_contact(dispatcher)
        return
    values: dict[str, Any] = {"callback_time": moment_text(callback.callback_at)}
    if callback.escalation.customer_id is None:
        desk: ServiceDeskHours = await in_read_only_session(load_service_desk)
        dispatcher.utter_message(response="utter_handoff_message_left_anonymous", hotline=desk.hotline, **values)
    else:
        dispatcher.utter_message(response="utter_handoff_message_left", **values)


def is_upset(text: str) -> bool:
    """Negative sentiment for a complaint's severity: angry words, abuse or a run of exclamation marks. Saying
    one wants to complain ("我要投诉") is how every complaint starts, so that alone does not make it upset."""
    mood = sentiment.analyse(text)
    complaint_words = set(sentiment.load_sentiment_rules().wants_escalation)
    return mood.abusive or any(phrase not in complaint_words for phrase in mood.matched)


async def escalate_complaint(
    dispatcher: CollectingDispatcher, tracker: Tracker, *, crm_severity: str, description: str
) -> None:
    """After a complaint is on record: the tier rules may put it in front of a person at once (platinum: any
    complaint; gold: medium or high; lead: high). The customer already has the TS number; when it is queued
    they are also told their place. Filing a ticket is all the rules ask otherwise, and that is done."""
    conversation_id = conversation_id_of(tracker)
    if conversation_id is None:
        return
    severity = complaint_severity(crm_severity, negative_sentiment=is_upset(description))
    # The complaint form already asked an unidentified customer for a mobile: no second question.
    counters = Counters(mobile_asked=load_escalation_rules().unidentified.ask_mobile_times)
    result = await request_handoff(tracker, conversation_id, Signal("complaint", severity), counters)
    if result is not None and result.action == "escalate":
        utter_decision(dispatcher, result)


# Intents that mean "the bot did not understand" for the fallback streak (policy/escalation.yml
# `consecutive_fallbacks`).
FALLBACK_INTENTS = frozenset({"nlu_fallback"})


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many of the customer's latest messages in a row the bot did not understand (the latest included)."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent not in FALLBACK_INTENTS:
            break
        count += 1
    return count


async def escalate_on_signal(
    dispatcher: CollectingDispatcher, tracker: Tracker, signal: Signal, counters: Counters
) -> list[EventType] | None:
    """A fallback streak or an upset customer: the tier rules decide whether a person takes over. When they do
    (queued, or the leave-a-message offer outside service hours), the customer is told and the events to return
    are given; None when the bot keeps the conversation (nothing said)."""
    conversation_id = conversation_id_of(tracker)
    if conversation_id is None:
        return None
    # Not a request for a person: an unidentified customer is not asked for a mobile here (iron rules apply).
    counters = Counters(
        explicit_requests=counters.explicit_requests,
        consecutive_fallbacks=counters.consecutive_fallbacks,
        mobile_asked=load_escalation_rules().unidentified.ask_mobile_times,
    )
    result = await request_handoff(tracker, conversation_id, signal, counters)
    if result is None or result.action not in ("escalate", "offer_leave_message"):
        return None
    utter_decision(dispatcher, result)
    return end_active_form(tracker)
