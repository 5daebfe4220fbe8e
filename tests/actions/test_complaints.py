"""Complaint form, submission and status actions with real rasa_sdk trackers and the seeded CRM."""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from actions.complaints import (
    ActionCancelComplaint,
    ActionComplaintStatus,
    ActionSubmitComplaint,
    ValidateComplaintForm,
    ValidateComplaintStatusForm,
)
from crm.models import Complaint, Customer, Order
from crm.numbers import TICKET_NUMBER_RE
from tests.actions.helpers import DOMAIN, responses, slot_values


def form_tracker(
    text: str,
    *,
    intent: str = "inform",
    form: str = "complaint_form",
    slots: dict[str, Any] | None = None,
    requested: str | None = None,
    after: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
) -> Tracker:
    """A tracker as Rasa hands it to validate_<form>: the user turn, any actions since, then the form."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.99},
        "entities": entities or [],
        "metadata": metadata or {},
    }
    events: list[dict[str, Any]] = [{"event": "user", "text": text, "parse_data": latest}]
    events += [{"event": "action", "name": name} for name in (after or [])]
    events.append({"event": "action", "name": form})
    return Tracker.from_dict(
        {
            "sender_id": "web:test",
            "slots": {"requested_slot": requested, **(slots or {})},
            "latest_message": latest,
            "events": events,
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": form},
            "latest_action_name": form,
        }
    )


def customer(session: Session, web_user_id: str) -> Customer:
    return session.scalars(select(Customer).where(Customer.web_user_id == web_user_id)).one()


def identified(person: Customer) -> dict[str, Any]:
    return {"customer_identified": True, "customer_id": str(person.id)}


async def validate(tracker: Tracker, action: Any = None) -> tuple[dict[str, Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = await (action or ValidateComplaintForm()).run(dispatcher, tracker, DOMAIN)
    values = slot_values(events)
    if values.get("invalid_attempts") == 0:  # a reset after a valid answer; asserted in test_forms.py
        del values["invalid_attempts"]
    return values, dispatcher


async def test_the_form_asks_in_order_only_what_is_missing() -> None:
    dispatcher = CollectingDispatcher()
    bare = await ValidateComplaintForm().run(
        dispatcher, form_tracker("我要投诉", intent="complain", after=["utter_complaint_empathy"]), DOMAIN
    )
    assert slot_values(bare)["requested_slot"] == "complaint_description"
    described = await ValidateComplaintForm().run(
        dispatcher, form_tracker("房间隔音太差了，隔壁吵了一整晚", intent="complain"), DOMAIN
    )
    assert slot_values(described)["requested_slot"] == "phone"  # the category was inferred; anonymous: a mobile


# ---- the form asks only what is missing -----------------------------------------------------------


async def test_a_complete_first_message_from_an_identified_customer_needs_no_question(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    with crm_sessionmaker() as session:
        who = identified(customer(session, "demo-gold"))
    text = "你们花果园店的服务员态度太差了，我要投诉"
    slots, dispatcher = await validate(
        form_tracker(text, intent="complain", slots=who, after=["utter_complaint_empathy"])
    )
    assert slots == {
        "complaint_description": text,
        "complaint_category": "service_attitude",
        "complaint_reference": "none",
        "requested_slot": None,
    }
    assert dispatcher.messages == []


async def test_a_bare_request_asks_what_happened() -> None:
    slots, _ = await validate(form_tracker("我要投诉", intent="complain", after=["utter_complaint_empathy"]))
    # Nothing filled: the form asks what happened first (utter_ask_..._complaint_description).
    assert slots == {"requested_slot": "complaint_description"}
    assert DOMAIN["forms"]["complaint_form"]["required_slots"][0] == "complaint_description"


async def test_the_description_answer_infers_the_category_then_asks_an_anonymous_customer_for_a_mobile() -> None:
    slots, _ = await validate(
        form_tracker("服务员对我们大吼大叫", intent="complain", requested="complaint_description")
    )
    assert slots == {
        "complaint_description": "服务员对我们大吼大叫",
        "complaint_category": "service_attitude",
        "complaint_reference": "none",
        "requested_slot": "phone",
    }  # phone is the only one left, so it is asked


async def test_an_unclear_description_asks_for_the_category_with_buttons() -> None:
    slots, _ = await validate(form_tracker("等了很久都没有人来", requested="complaint_description"))
    assert slots == {"complaint_description": "等了很久都没有人来", "requested_slot": "complaint_category"}
    buttons = DOMAIN["responses"]["utter_ask_complaint_form_complaint_category"][0]["buttons"]
    assert len(buttons) == 7

    answered, _ = await validate(
        form_tracker(
            "卫生/食品安全",
            requested="complaint_category",
            slots={"complaint_description": "等了很久都没有人来"},
        )
    )
    assert answered["complaint_category"] == "hygiene"


async def test_an_unknown_category_answer_is_explained_and_asked_again() -> None:
    slots, dispatcher = await validate(
        form_tracker("嗯嗯", requested="complaint_category", slots={"complaint_description": "等了很久"})
    )
    assert slots["complaint_category"] is None and slots["invalid_attempts"] == 1
    assert responses(dispatcher) == ["utter_complaint_invalid_category"]


async def test_a_ten_digit_phone_is_explained_and_a_person_is_offered_on_the_third_try() -> None:
    filled = {
        "complaint_description": "菜里有虫子",
        "complaint_category": "hygiene",
        "complaint_reference": "none",
    }
    slots, dispatcher = await validate(form_tracker("1381234567", requested="phone", slots=filled))
    assert slots["phone"] is None and slots["invalid_attempts"] == 1
    assert responses(dispatcher) == ["utter_booking_phone_length"]  # "您输入的是 10 位数字…"
    assert dispatcher.messages[0]["digits"] == 10

    third, dispatcher = await validate(
        form_tracker("1381234567", requested="phone", slots={**filled, "invalid_attempts": 2})
    )
    assert third["invalid_attempts"] == 3
    assert responses(dispatcher) == ["utter_booking_phone_length", "utter_offer_human"]

    good, _ = await validate(form_tracker("１３８ １２３４ ５６７８", requested="phone", slots=filled))
    assert good["phone"] == "13812345678"


@pytest.mark.parametrize("requested", ["phone", "complaint_reference"])
async def test_more_about_what_happened_while_the_mobile_or_number_is_asked_is_added_not_called_wrong(
    requested: str,
) -> None:
    """ "上周六在观山湖" is where and when, not a wrong mobile or order number: it goes into the description,
    the customer is told so, and the question is asked again."""
    filled = {"complaint_description": "车门给我刮花了", "complaint_category": "service_quality"}
    slots, dispatcher = await validate(form_tracker("上周六在观山湖", requested=requested, slots=filled))
    assert slots["complaint_description"] == "车门给我刮花了；上周六在观山湖"
    assert slots.get(requested) is None and slots.get("invalid_attempts", 0) == 0
    assert responses(dispatcher) == ["utter_complaint_detail_noted"]

    # Digits are still an attempt at the number asked, and a yes or a short word is no detail.
    for text in ("1381234567", "好的"):
        _, dispatcher = await validate(form_tracker(text, requested=requested, slots=filled))
        assert "utter_complaint_detail_noted" not in responses(dispatcher), text


async def test_a_correction_updates_category_and_description() -> None:
    filled = {
        "complaint_description": "服务员态度很差",
        "complaint_category": "service_attitude",
        "complaint_reference": "none",
    }
    slots, dispatcher = await validate(form_tracker("不是服务态度，是菜里有虫子", requested="phone", slots=filled))
    assert slots["complaint_category"] == "hygiene"
    assert slots["complaint_description"] == "服务员态度很差；不是服务态度，是菜里有虫子"
    assert "phone" not in slots or slots["phone"] is None
    assert responses(dispatcher) == ["utter_complaint_category_updated"]
    assert dispatcher.messages[0]["category_label"] == "卫生/食品安全"


@pytest.mark.parametrize(
    ("text", "intent", "after"),
    [
        ("你们几点关门", "faq", []),
        ("算了不投诉了", "deny", []),
        ("转人工", "request_human", []),
        # Coming back after an FAQ answer: the FAQ question is not the description.
        ("你们有停车场吗", "inform", ["action_answer_faq"]),
    ],
)
async def test_turns_that_are_not_answers_fill_nothing_so_the_form_yields(
    text: str, intent: str, after: list[str]
) -> None:
    slots, dispatcher = await validate(
        form_tracker(text, intent=intent, requested="complaint_description", after=after)
    )
    # Nothing validated (the question stays the same): Rasa rejects the form and the rules answer.
    assert slots == {"requested_slot": "complaint_description"}
    assert dispatcher.messages == []


async def test_reference_is_asked_for_product_complaints_and_checked_against_the_customer(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    with crm_sessionmaker() as session:
        gold = customer(session, "demo-gold")
        platinum = customer(session, "demo-platinum")
        own = session.scalars(select(Order.order_number).where(Order.customer_id == gold.id)).first()
        foreign = session.scalars(select(Order.order_number).where(Order.customer_id == platinum.id)).first()
        who = identified(gold)
    first, _ = await validate(form_tracker("买的衬衫起球了", intent="complain", slots=who))
    assert first["complaint_category"] == "product_quality"
    assert first["requested_slot"] == "complaint_reference"

    filled = {**who, "complaint_description": "买的衬衫起球了", "complaint_category": "product_quality"}
    stranger, dispatcher = await validate(form_tracker(foreign, requested="complaint_reference", slots=filled))
    assert stranger["complaint_reference"] is None
    assert responses(dispatcher) == ["utter_complaint_reference_not_found"]

    mine, _ = await validate(form_tracker(f"订单号 {own.lower()}", requested="complaint_reference", slots=filled))
    assert mine["complaint_reference"] == own and mine["requested_slot"] is None

    none, _ = await validate(form_tracker("没有", intent="deny", requested="complaint_reference", slots=filled))
    assert none["complaint_reference"] == "none"

    garbled, dispatcher = await validate(form_tracker("DD2026", requested="complaint_reference", slots=filled))
    assert garbled["complaint_reference"] is None
    assert responses(dispatcher) == ["utter_complaint_invalid_reference"]


# ---- submission ---------------------------------------------------------------------------------------


def ticket_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Complaint)) or 0)


async def test_submit_opens_a_ticket_and_a_double_tap_gets_the_same_number(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    before = ticket_count(crm_sessionmaker)
    slots = {
        "complaint_description": "服务员态度太差了",
        "complaint_category": "service_attitude",
        "complaint_reference": "none",
        "phone": "13700004444",
    }
    first = CollectingDispatcher()
    events = await ActionSubmitComplaint().run(
        first, form_tracker("13700004444", slots=slots, metadata={"message_id": 101}), DOMAIN
    )
    message = first.messages[-1]
    assert message["response"] == "utter_complaint_created"
    assert TICKET_NUMBER_RE.fullmatch(message["ticket_number"])
    assert message["response_hours"] == 48 and message["due_text"]  # anonymous: the lowest tier's SLA
    assert SlotSet("complaint_description", None) in events and SlotSet("ticket_id", message["ticket_number"]) in events

    again = CollectingDispatcher()
    await ActionSubmitComplaint().run(
        again, form_tracker("13700004444", slots=slots, metadata={"message_id": 102}), DOMAIN
    )
    assert responses(again) == ["utter_complaint_duplicate"]
    assert again.messages[0]["ticket_number"] == message["ticket_number"]
    assert ticket_count(crm_sessionmaker) == before + 1
    with crm_sessionmaker() as session:
        row = session.scalars(select(Complaint).where(Complaint.ticket_number == message["ticket_number"])).one()
        assert row.idempotency_key == "msg:101" and row.contact_mobile == "13700004444"


async def test_food_safety_is_flagged_as_urgent(crm_sessionmaker: sessionmaker[Session]) -> None:
    with crm_sessionmaker() as session:
        who = identified(customer(session, "demo-platinum"))
    slots = {
        **who,
        "complaint_description": "菜里有虫子",
        "complaint_category": "hygiene",
        "complaint_reference": "none",
    }
    dispatcher = CollectingDispatcher()
    await ActionSubmitComplaint().run(dispatcher, form_tracker("菜里有虫子", slots=slots), DOMAIN)
    assert responses(dispatcher) == ["utter_complaint_priority_high", "utter_complaint_created"]
    assert dispatcher.messages[1]["response_hours"] == 1  # platinum, high


async def test_cancel_writes_nothing_and_forgets_the_draft(crm_sessionmaker: sessionmaker[Session]) -> None:
    before = ticket_count(crm_sessionmaker)
    dispatcher = CollectingDispatcher()
    events = await ActionCancelComplaint().run(
        dispatcher, form_tracker("算了", slots={"complaint_description": "太慢了"}), DOMAIN
    )
    assert responses(dispatcher) == ["utter_complaint_cancelled"]
    assert SlotSet("complaint_description", None) in events
    assert ticket_count(crm_sessionmaker) == before


# ---- status -------------------------------------------------------------------------------------------


async def _filed(mobile: str) -> str:
    dispatcher = CollectingDispatcher()
    slots = {
        "complaint_description": "房间隔音太差",
        "complaint_category": "facilities",
        "complaint_reference": "none",
        "phone": mobile,
    }
    await ActionSubmitComplaint().run(dispatcher, form_tracker(mobile, slots=slots), DOMAIN)
    return dispatcher.messages[-1]["ticket_number"]


async def test_anonymous_status_needs_the_number_and_the_mobile_on_the_ticket() -> None:
    number = await _filed("13700005555")
    shown = CollectingDispatcher()
    await ActionComplaintStatus().run(
        shown, form_tracker("13700005555", slots={"ticket_id": number, "phone": "13700005555"}), DOMAIN
    )
    assert responses(shown) == ["utter_complaint_status"]
    assert shown.messages[0]["masked_mobile"] == "137****5555"
    assert shown.messages[0]["status_label"] and shown.messages[0]["last_update"]

    hidden = CollectingDispatcher()
    events = await ActionComplaintStatus().run(
        hidden, form_tracker("13700006666", slots={"ticket_id": number, "phone": "13700006666"}), DOMAIN
    )
    assert responses(hidden) == ["utter_complaint_status_not_found"]
    assert set(hidden.messages[0]) >= {"ticket_number"} and "status_label" not in hidden.messages[0]
    assert SlotSet("phone", None) in events


async def test_my_complaints_lists_the_open_tickets_of_an_identified_customer(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    with crm_sessionmaker() as session:
        who = identified(customer(session, "demo-lead"))
    none = CollectingDispatcher()
    await ActionComplaintStatus().run(none, form_tracker("我的投诉", intent="complaint_status", slots=who), DOMAIN)
    assert responses(none) == ["utter_complaint_status_none_open"]

    filed = CollectingDispatcher()
    slots = {
        **who,
        "complaint_description": "没收到货",
        "complaint_category": "delivery",
        "complaint_reference": "none",
    }
    await ActionSubmitComplaint().run(filed, form_tracker("没有", slots=slots), DOMAIN)
    listed = CollectingDispatcher()
    await ActionComplaintStatus().run(listed, form_tracker("我的投诉", intent="complaint_status", slots=who), DOMAIN)
    assert responses(listed) == ["utter_complaint_status_list_header", "utter_complaint_status"]
    assert listed.messages[1]["ticket_number"] == filed.messages[-1]["ticket_number"]


async def test_status_form_asks_anonymous_customers_for_number_then_mobile() -> None:
    form = ValidateComplaintStatusForm()
    slots, _ = await validate(
        form_tracker("我的投诉怎么样了", intent="complaint_status", form="complaint_status_form"), form
    )
    assert slots == {"requested_slot": "ticket_id"}  # the ticket number first

    full_width, _ = await validate(
        form_tracker("ＴＳ２０２６１１２００００３", form="complaint_status_form", requested="ticket_id"),
        form,
    )
    assert full_width == {"ticket_id": "TS202611200003", "requested_slot": "phone"}  # then the mobile on it

    wrong, dispatcher = await validate(
        form_tracker("TS2026112", form="complaint_status_form", requested="ticket_id"), form
    )
    assert wrong["ticket_id"] is None and responses(dispatcher) == ["utter_complaint_invalid_ticket"]


async def test_status_form_needs_nothing_from_an_identified_customer(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    with crm_sessionmaker() as session:
        who = identified(customer(session, "demo-gold"))
    slots, _ = await validate(
        form_tracker("我的投诉", intent="complaint_status", form="complaint_status_form", slots=who),
        ValidateComplaintStatusForm(),
    )
    assert slots == {"requested_slot": None}


async def test_one_message_fills_what_happened_the_category_and_the_mobile() -> None:
    slots, dispatcher = await validate(
        form_tracker("洗车把我车门划了一道，电话 138 1234 5678", intent="complain", after=["utter_complaint_empathy"])
    )
    assert slots["phone"] == "13812345678" and slots["complaint_category"] is not None
    assert "划" in slots["complaint_description"]
    assert "utter_booking_phone_invalid" not in responses(dispatcher)


async def test_a_corrected_mobile_replaces_the_wrong_length_one() -> None:
    filled = {"complaint_description": "房间很吵", "complaint_category": "facilities", "complaint_reference": "none"}
    wrong, dispatcher = await validate(form_tracker("1381234567", requested="phone", slots=filled))
    assert wrong["phone"] is None and dispatcher.messages[0]["digits"] == 10
    fixed, _ = await validate(
        form_tracker("不好意思，是13812345678", requested="phone", slots={**filled, "invalid_attempts": 1})
    )
    assert fixed["phone"] == "13812345678" and fixed.get("invalid_attempts", 0) == 0


async def _filed_for(customer_id: int) -> str:
    slots = {
        "customer_identified": True,
        "customer_id": str(customer_id),
        "complaint_description": "快递一直没到",
        "complaint_category": "delivery",
        "complaint_reference": "none",
    }
    dispatcher = CollectingDispatcher()
    events = await ActionSubmitComplaint().run(dispatcher, form_tracker("快递一直没到", slots=slots), DOMAIN)
    return str(slot_values(events)["ticket_id"])


async def test_a_detail_right_after_filing_is_added_to_the_ticket_once(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    from actions.complaints import ActionAddComplaintDetail

    with crm_sessionmaker() as session:
        gold = customer(session, "demo-gold")
    ticket = await _filed_for(gold.id)
    who = {"customer_identified": True, "customer_id": str(gold.id), "ticket_id": ticket}
    detail = "说好昨天到的，今天还在派送，一直没人联系我"
    for _ in range(2):  # a redelivered message is not added twice
        dispatcher = CollectingDispatcher()
        events = await ActionAddComplaintDetail().run(
            dispatcher, form_tracker(detail, intent="order_status", slots=who), DOMAIN
        )
        assert responses(dispatcher) == ["utter_complaint_detail_added"] and not events
        assert dispatcher.messages[0]["ticket_number"] == ticket
    with crm_sessionmaker() as session:
        row = session.scalars(select(Complaint).where(Complaint.ticket_number == ticket)).one()
        assert row.description.count("一直没人联系我") == 1 and row.description.startswith("快递一直没到")


@pytest.mark.parametrize(
    ("text", "intent", "followup"),
    [
        ("我另一单DD202611200017到哪了", "order_status", "order_lookup_form"),
        ("我的订单到哪了", "order_status", "order_lookup_form"),
        ("好", "inform", "action_route_unclaimed"),
    ],
)
async def test_a_number_a_question_or_a_word_after_filing_goes_its_own_way(
    text: str, intent: str, followup: str, crm_sessionmaker: sessionmaker[Session]
) -> None:
    from actions.complaints import ActionAddComplaintDetail

    with crm_sessionmaker() as session:
        gold = customer(session, "demo-gold")
    ticket = await _filed_for(gold.id)
    dispatcher = CollectingDispatcher()
    events = await ActionAddComplaintDetail().run(
        dispatcher,
        form_tracker(
            text, intent=intent, slots={"customer_identified": True, "customer_id": str(gold.id), "ticket_id": ticket}
        ),
        DOMAIN,
    )
    assert not dispatcher.messages
    assert [event["name"] for event in events if event["event"] == "followup"] == [followup]


async def test_someone_elses_ticket_gets_no_detail(crm_sessionmaker: sessionmaker[Session]) -> None:
    from actions.complaints import ActionAddComplaintDetail

    with crm_sessionmaker() as session:
        gold, platinum = customer(session, "demo-gold"), customer(session, "demo-platinum")
    ticket = await _filed_for(gold.id)
    dispatcher = CollectingDispatcher()
    slots = {"customer_identified": True, "customer_id": str(platinum.id), "ticket_id": ticket}
    events = await ActionAddComplaintDetail().run(
        dispatcher,
        form_tracker("说好昨天到的，今天还在派送，一直没人联系我", intent="order_status", slots=slots),
        DOMAIN,
    )
    assert not dispatcher.messages and events[0]["event"] == "followup"
