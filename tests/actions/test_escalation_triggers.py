"""Issue 8 §3, checked against the code: fallback streaks and negative sentiment escalate through
policy/escalation.yml, per tier (platinum at the first fallback, gold at 2 in a row and when upset, iron at 3
in a row, lead never on these), with real trackers on the seeded CRM. Messages the bot did understand in
between break a streak; outside service hours a streak that escalates becomes the leave-a-message offer."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session, sessionmaker

from actions.escalation import consecutive_fallbacks
from actions.routing import ActionRouteUnclaimed
from tests.actions.helpers import DOMAIN, responses
from tests.actions.test_handoff import ALL_DAY, CLOSED, escalations, open_conversation, owner, set_desk_hours

GIBBERISH = "qwertyuiop"
UPSET = "气死我了！！你们这什么服务"


def tracker_after(conversation_id: int, intents: list[str], *, text: str, slots: dict[str, Any]) -> Tracker:
    """A tracker whose customer messages had `intents`, the last one being the latest message (`text`)."""
    metadata = {"conversation_id": conversation_id, "message_id": 1}
    events: list[dict[str, Any]] = []
    latest: dict[str, Any] = {}
    for index, intent in enumerate(intents):
        said = text if index == len(intents) - 1 else f"message {index}"
        latest = {"text": said, "intent": {"name": intent, "confidence": 0.3}, "entities": [], "metadata": metadata}
        events += [
            {"event": "user", "text": said, "parse_data": latest, "metadata": metadata},
            {"event": "bot", "text": "…"},
            {"event": "action", "name": "action_listen"},
        ]
    events = events[:-2]  # the latest message is being answered now
    return Tracker.from_dict(
        {
            "sender_id": "web:triggers",
            "slots": slots,
            "latest_message": latest,
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


FB = "nlu_fallback"


@pytest.mark.parametrize(
    ("web_user_id", "intents", "text", "priority"),
    [
        # fallback streaks
        ("demo-platinum", [FB], GIBBERISH, 100),
        ("demo-gold", [FB], GIBBERISH, None),
        ("demo-gold", [FB, FB], GIBBERISH, 70),
        ("demo-gold", [FB, "greet", FB], GIBBERISH, None),  # an understood message breaks the streak
        ("demo-iron", [FB, FB], GIBBERISH, None),
        ("demo-iron", [FB, FB, FB], GIBBERISH, 40),
        ("demo-lead", [FB, FB, FB, FB], GIBBERISH, None),
        (None, [FB, FB, FB], GIBBERISH, 40),  # unidentified: iron rules, no mobile question for a fallback
        # negative sentiment (only gold's rules escalate on it)
        ("demo-gold", ["out_of_scope"], UPSET, 70),
        ("demo-platinum", ["out_of_scope"], UPSET, None),
        ("demo-iron", ["out_of_scope"], UPSET, None),
        ("demo-lead", ["out_of_scope"], UPSET, None),
        ("demo-gold", ["out_of_scope"], "你们能帮我写作业吗", None),  # not upset
    ],
)
async def test_fallback_streaks_and_negative_sentiment_escalate_by_tier(
    crm_sessionmaker: sessionmaker[Session],
    web_user_id: str | None,
    intents: list[str],
    text: str,
    priority: int | None,
) -> None:
    set_desk_hours(crm_sessionmaker, ALL_DAY)
    conversation_id, profile = open_conversation(crm_sessionmaker, web_user_id)
    dispatcher = CollectingDispatcher()
    await ActionRouteUnclaimed().run(
        dispatcher, tracker_after(conversation_id, intents, text=text, slots=profile), DOMAIN
    )
    queued = escalations(crm_sessionmaker, conversation_id)
    if priority is None:
        assert queued == [] and owner(crm_sessionmaker, conversation_id) == "bot"
        assert responses(dispatcher) in (["utter_ask_rephrase"], ["utter_out_of_scope"])
        return
    [escalation] = queued
    assert (escalation.status, escalation.priority) == ("queued", priority)
    assert responses(dispatcher) == ["utter_handoff_queued"]
    assert owner(crm_sessionmaker, conversation_id) == "queue"
    kind = "fallback" if intents[-1] == FB else "negative sentiment"
    assert kind in escalation.reason.replace("_", " ")


async def test_outside_service_hours_a_streak_offers_to_leave_a_message(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    set_desk_hours(crm_sessionmaker, CLOSED)
    conversation_id, profile = open_conversation(crm_sessionmaker, "demo-iron")
    dispatcher = CollectingDispatcher()
    await ActionRouteUnclaimed().run(
        dispatcher, tracker_after(conversation_id, [FB, FB, FB], text=GIBBERISH, slots=profile), DOMAIN
    )
    assert responses(dispatcher) == ["utter_handoff_offer_leave_message"]
    assert escalations(crm_sessionmaker, conversation_id) == []


@pytest.mark.parametrize(
    ("intents", "streak"),
    [([FB], 1), ([FB, FB, FB], 3), (["greet", FB, FB], 2), ([FB, "faq"], 0), (["faq", FB, "inform", FB], 1)],
)
def test_the_streak_counts_the_latest_run_of_fallbacks(intents: list[str], streak: int) -> None:
    assert consecutive_fallbacks(tracker_after(1, intents, text="x", slots={})) == streak
