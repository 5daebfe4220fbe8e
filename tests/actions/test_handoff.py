"""转人工, leaving a message and the complaint trigger, with real trackers on the seeded CRM, per tier and trigger.

Service hours are set in the CRM by each test (open all day or closed), so the answers do not depend on the
time the suite runs."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from actions.complaints import ActionSubmitComplaint
from actions.escalation import is_upset
from actions.handoff import ActionLeaveMessage, ActionRequestHuman
from crm.models import Complaint, Conversation, Customer, Escalation, EscalationNote, ServiceDesk
from crm.types import utcnow
from tests.actions.helpers import DOMAIN, responses, slot_values

ALL_DAY = {day: [["00:00", "23:59"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
CLOSED: dict[str, list[list[str]]] = {}


def set_desk_hours(factory: sessionmaker[Session], hours: dict[str, Any]) -> None:
    with factory.begin() as session:
        session.execute(update(ServiceDesk).values(service_hours=hours))


def open_conversation(factory: sessionmaker[Session], web_user_id: str | None) -> tuple[int, dict[str, Any]]:
    """A hub conversation for the demo customer (None = anonymous) and the profile slots the bot has."""
    with factory.begin() as session:
        customer = (
            session.scalars(select(Customer).where(Customer.web_user_id == web_user_id)).one() if web_user_id else None
        )
        conversation = Conversation(
            channel="web",
            channel_user_id=web_user_id or "anon:handoff",
            customer_id=customer.id if customer else None,
            rasa_sender_id=f"web:{web_user_id}:handoff-test",
            started_at=utcnow(),
        )
        session.add(conversation)
        session.flush()
        slots = {"customer_identified": True, "customer_id": str(customer.id)} if customer else {}
        return conversation.id, slots


def tracker(
    conversation_id: int | None,
    *,
    text: str = "转人工",
    intent: str = "request_human",
    slots: dict[str, Any] | None = None,
    active_loop: str | None = None,
) -> Tracker:
    metadata = {"conversation_id": conversation_id, "message_id": 9_000 + (conversation_id or 0)}
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": [],
        "metadata": metadata if conversation_id is not None else {},
    }
    return Tracker.from_dict(
        {
            "sender_id": "web:handoff-test",
            "slots": slots or {},
            "latest_message": latest,
            "events": [{"event": "user", "text": text, "parse_data": latest, "metadata": metadata}],
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": active_loop} if active_loop else {},
            "latest_action_name": "action_listen",
        }
    )


async def run(action: Any, tracker_: Tracker) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker_, DOMAIN)
    return events, dispatcher


def escalations(factory: sessionmaker[Session], conversation_id: int) -> list[Escalation]:
    with factory() as session:
        return list(session.scalars(select(Escalation).where(Escalation.conversation_id == conversation_id)))


def owner(factory: sessionmaker[Session], conversation_id: int) -> str:
    with factory() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return conversation.owner


@pytest.mark.parametrize(
    ("web_user_id", "hours", "expected_response", "priority"),
    [
        ("demo-platinum", ALL_DAY, "utter_handoff_queued", 100),
        ("demo-gold", ALL_DAY, "utter_handoff_queued", 70),
        ("demo-iron", ALL_DAY, "utter_handoff_queued", 40),
        ("demo-iron", CLOSED, "utter_handoff_offer_leave_message", None),
        ("demo-platinum", CLOSED, "utter_handoff_offer_leave_message", None),
        ("demo-lead", ALL_DAY, "utter_handoff_bot_keeps_helping", None),
        (None, ALL_DAY, "utter_handoff_ask_mobile", None),
    ],
)
async def test_a_first_request_is_answered_by_the_tier_rules(
    crm_sessionmaker: sessionmaker[Session],
    web_user_id: str | None,
    hours: dict[str, Any],
    expected_response: str,
    priority: int | None,
) -> None:
    set_desk_hours(crm_sessionmaker, hours)
    conversation_id, profile = open_conversation(crm_sessionmaker, web_user_id)
    events, dispatcher = await run(ActionRequestHuman(), tracker(conversation_id, slots=profile))
    assert responses(dispatcher) == [expected_response]
    assert slot_values(events)["handoff_requests"] == 1.0
    assert slot_values(events)["handoff_conversation_id"] == str(conversation_id)
    queued = escalations(crm_sessionmaker, conversation_id)
    if priority is None:
        assert queued == [] and owner(crm_sessionmaker, conversation_id) == "bot"
        return
    [escalation] = queued
    assert (escalation.status, escalation.priority) == ("queued", priority)
    assert owner(crm_sessionmaker, conversation_id) == "queue"
    message = dispatcher.messages[0]
    assert message["ahead"] == 0 and message["wait_minutes"] >= 1


async def test_facts_are_the_crms_never_the_domains(crm_sessionmaker: sessionmaker[Session]) -> None:
    set_desk_hours(crm_sessionmaker, CLOSED)
    with crm_sessionmaker.begin() as session:
        session.execute(update(ServiceDesk).values(hotline="400-000-1234", service_hours_text_zh="每天 07:00-23:00"))
    conversation_id, profile = open_conversation(crm_sessionmaker, "demo-iron")
    _, dispatcher = await run(ActionRequestHuman(), tracker(conversation_id, slots=profile))
    [message] = dispatcher.messages
    assert (message["hotline"], message["service_hours"]) == ("400-000-1234", "每天 07:00-23:00")
    texts = [variant.get("text", "") for variants in DOMAIN["responses"].values() for variant in variants]
    assert not [text for text in texts if "400-" in text]


async def test_lead_asking_once_gets_the_bot_asking_twice_gets_the_queue(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    set_desk_hours(crm_sessionmaker, ALL_DAY)
    conversation_id, profile = open_conversation(crm_sessionmaker, "demo-lead")
    first_events, first = await run(ActionRequestHuman(), tracker(conversation_id, slots=profile))
    assert responses(first) == ["utter_handoff_bot_keeps_helping"]
    assert first.messages[0]["hotline"]  # how to reach a person
    carried = {**profile, **slot_values(first_events)}
    _, second = await run(ActionRequestHuman(), tracker(conversation_id, slots=carried))
    assert responses(second) == ["utter_handoff_queued"]
    [escalation] = escalations(crm_sessionmaker, conversation_id)
    assert escalation.priority == 10 and "explicit request #2" in escalation.reason


async def test_lead_asking_twice_outside_service_hours_gets_a_call_back(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    set_desk_hours(crm_sessionmaker, CLOSED)
    conversation_id, profile = open_conversation(crm_sessionmaker, "demo-lead")
    counted = {**profile, "handoff_conversation_id": str(conversation_id), "handoff_requests": 1.0}
    _, dispatcher = await run(ActionRequestHuman(), tracker(conversation_id, slots=counted))
    assert responses(dispatcher) == ["utter_handoff_message_left"]
    [escalation] = escalations(crm_sessionmaker, conversation_id)
    assert (escalation.status, escalation.outcome) == ("closed", "callback")
    assert escalation.callback_at is not None
    assert owner(crm_sessionmaker, conversation_id) == "bot"


async def test_counts_from_an_earlier_conversation_do_not_carry_over(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    set_desk_hours(crm_sessionmaker, ALL_DAY)
    conversation_id, profile = open_conversation(crm_sessionmaker, "demo-lead")
    stale = {**profile, "handoff_conversation_id": str(conversation_id + 1000), "handoff_requests": 1.0}
    events, dispatcher = await run(ActionRequestHuman(), tracker(conversation_id, slots=stale))
    assert responses(dispatcher) == ["utter_handoff_bot_keeps_helping"]
    assert slot_values(events)["handoff_requests"] == 1.0


async def test_an_unidentified_customer_is_asked_for_a_mobile_once_then_queued_on_iron_rules(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    set_desk_hours(crm_sessionmaker, ALL_DAY)
    conversation_id, _ = open_conversation(crm_sessionmaker, None)
    events, asked = await run(ActionRequestHuman(), tracker(conversation_id))
    assert responses(asked) == ["utter_handoff_ask_mobile"]
    carried = slot_values(events)
    assert carried["handoff_awaiting_mobile"] is True
    reply = tracker(conversation_id, text="我的手机号是 139 0000 1111", intent="inform", slots=carried)
    events, queued = await run(ActionRequestHuman(), reply)
    assert responses(queued) == ["utter_handoff_queued"]
    assert slot_values(events)["handoff_awaiting_mobile"] is False
    [escalation] = escalations(crm_sessionmaker, conversation_id)
    assert escalation.priority == 40 and "unidentified, iron rules" in escalation.reason
    with crm_sessionmaker() as session:
        notes = session.scalars(select(EscalationNote.text).where(EscalationNote.escalation_id == escalation.id))
        assert any("13900001111" in note for note in notes)  # for the agent, never shown to the customer


async def test_an_answer_that_is_not_the_asked_mobile_is_routed_as_usual(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    conversation_id, profile = open_conversation(crm_sessionmaker, "demo-lead")
    events, dispatcher = await run(
        ActionRequestHuman(), tracker(conversation_id, text="DD202611200017", intent="inform", slots=profile)
    )
    assert dispatcher.messages == []
    assert FollowupAction("action_route_unclaimed") in events
    assert "handoff_requests" not in slot_values(events)  # nothing counted
    assert escalations(crm_sessionmaker, conversation_id) == []


async def test_asking_from_inside_a_complaint_files_it_first_and_ends_the_form(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    set_desk_hours(crm_sessionmaker, ALL_DAY)
    conversation_id, profile = open_conversation(crm_sessionmaker, "demo-gold")
    under_way = {
        **profile,
        "complaint_description": "花果园店的服务员态度太差了",
        "complaint_category": "service_attitude",
        "requested_slot": "complaint_reference",
    }
    events, dispatcher = await run(
        ActionRequestHuman(), tracker(conversation_id, slots=under_way, active_loop="complaint_form")
    )
    assert ActiveLoop(None) in events and SlotSet("requested_slot", None) in events
    assert responses(dispatcher) == ["utter_complaint_created", "utter_handoff_queued"]
    ticket = slot_values(events)["ticket_id"]
    with crm_sessionmaker() as session:
        complaint = session.scalars(select(Complaint).where(Complaint.ticket_number == ticket)).one()
        assert complaint.description == "花果园店的服务员态度太差了"
    assert len(escalations(crm_sessionmaker, conversation_id)) == 1


async def test_a_complaint_that_cannot_be_filed_is_handed_over_as_a_note(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    set_desk_hours(crm_sessionmaker, ALL_DAY)
    conversation_id, _ = open_conversation(crm_sessionmaker, None)
    under_way = {"complaint_description": "等了很久都没有人来", "handoff_mobile_asked": 1.0}
    under_way["handoff_conversation_id"] = str(conversation_id)
    events, dispatcher = await run(ActionRequestHuman(), tracker(conversation_id, slots=under_way))
    assert responses(dispatcher) == ["utter_handoff_queued"]
    assert slot_values(events)["complaint_description"] is None
    [escalation] = escalations(crm_sessionmaker, conversation_id)
    with crm_sessionmaker() as session:
        notes = list(session.scalars(select(EscalationNote.text).where(EscalationNote.escalation_id == escalation.id)))
    assert notes == ["complaint under way (not filed): 等了很久都没有人来"]


async def test_leaving_a_message_while_waiting_closes_the_wait_as_a_call_back(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    set_desk_hours(crm_sessionmaker, ALL_DAY)
    conversation_id, profile = open_conversation(crm_sessionmaker, "demo-iron")
    await run(ActionRequestHuman(), tracker(conversation_id, slots=profile))
    assert owner(crm_sessionmaker, conversation_id) == "queue"
    leave = tracker(conversation_id, text="/leave_message", intent="leave_message", slots=profile)
    _, dispatcher = await run(ActionLeaveMessage(), leave)
    assert responses(dispatcher) == ["utter_handoff_message_left"]
    [escalation] = escalations(crm_sessionmaker, conversation_id)
    assert (escalation.status, escalation.outcome) == ("closed", "callback")
    assert owner(crm_sessionmaker, conversation_id) == "bot"
    _, again = await run(ActionLeaveMessage(), leave)  # a retried button press
    assert responses(again) == ["utter_handoff_message_left"]
    assert len(escalations(crm_sessionmaker, conversation_id)) == 1


async def test_outside_the_hub_the_customer_gets_the_crms_hotline() -> None:
    _, dispatcher = await run(ActionRequestHuman(), tracker(None))
    [message] = dispatcher.messages
    assert message["response"] == "utter_handoff_contact" and message["hotline"] == "400-851-6688"


@pytest.mark.parametrize(
    ("web_user_id", "description", "category", "queued"),
    [
        ("demo-platinum", "店员说话有点不耐烦", "service_attitude", (100, "vip")),
        ("demo-gold", "店员说话有点不耐烦", "service_attitude", None),
        ("demo-lead", "店员说话有点不耐烦", "service_attitude", None),
        ("demo-lead", "菜里吃出了虫子", "hygiene", (10, None)),
    ],
)
async def test_a_recorded_complaint_is_escalated_as_the_tier_rules_say(
    crm_sessionmaker: sessionmaker[Session],
    web_user_id: str,
    description: str,
    category: str,
    queued: tuple[int, str | None] | None,
) -> None:
    set_desk_hours(crm_sessionmaker, ALL_DAY)
    conversation_id, profile = open_conversation(crm_sessionmaker, web_user_id)
    filled = {
        **profile,
        "complaint_description": description,
        "complaint_category": category,
        "complaint_reference": "none",
    }
    events, dispatcher = await run(
        ActionSubmitComplaint(), tracker(conversation_id, text="没有", intent="deny", slots=filled)
    )
    ticket = slot_values(events)["ticket_id"]
    with crm_sessionmaker() as session:
        assert session.scalars(select(Complaint).where(Complaint.ticket_number == ticket)).one()  # on record
    if queued is None:
        assert escalations(crm_sessionmaker, conversation_id) == []
        assert "utter_handoff_queued" not in responses(dispatcher)
        return
    assert responses(dispatcher)[-2:] == ["utter_complaint_created", "utter_handoff_queued"]
    [escalation] = escalations(crm_sessionmaker, conversation_id)
    assert (escalation.priority, escalation.agent_group) == queued
    assert dispatcher.messages[-2]["ticket_number"] == ticket


@pytest.mark.parametrize(
    ("description", "upset"),
    [
        ("你们花果园店的服务员态度不好，我要投诉", False),
        ("服务员态度太差了，我要投诉", True),
        ("等了一个小时都没人理！！", True),
        ("说好昨天到的，今天还在派送", False),
    ],
)
def test_wanting_to_complain_is_not_by_itself_upset(description: str, upset: bool) -> None:
    assert is_upset(description) is upset


async def test_an_upset_gold_complaint_is_queued(crm_sessionmaker: sessionmaker[Session]) -> None:
    set_desk_hours(crm_sessionmaker, ALL_DAY)
    conversation_id, profile = open_conversation(crm_sessionmaker, "demo-gold")
    filled = {
        **profile,
        "complaint_description": "服务员态度太差了，气死我了",
        "complaint_category": "service_attitude",
        "complaint_reference": "none",
    }
    _, dispatcher = await run(
        ActionSubmitComplaint(), tracker(conversation_id, text="没有", intent="deny", slots=filled)
    )
    assert responses(dispatcher)[-1] == "utter_handoff_queued"
    [escalation] = escalations(crm_sessionmaker, conversation_id)
    assert escalation.priority == 70 and "medium" in escalation.reason
