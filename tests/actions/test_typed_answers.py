"""The one form mechanism (actions/forms.py) with real trackers: customers type, in any order."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions.bookings import ValidateBookingForm, ValidateCancelBookingForm, ValidateModifyBookingForm
from actions.forms import confirmation, correction_tail
from actions.orders import ValidateOrderLookupForm
from actions.routing import ActionAnswerDeny, ActionRouteUnclaimed
from crm.models import Booking
from tests.actions.helpers import DOMAIN, responses
from tests.actions.test_bookings import CAR, TOMORROW, demo, identified, run, tracker

TYPED_YES = [
    "对",
    "对的",
    "嗯嗯 对的",
    "好的",
    "好",
    "可以",
    "没问题",
    "确认",
    "确定",
    "就这样",
    "是的",
    "好吧",
    "确认取消",
]


@pytest.mark.parametrize("text", TYPED_YES)
def test_typed_yes(text: str) -> None:
    assert confirmation(text, "inform", DOMAIN) is True


@pytest.mark.parametrize("text", ["算了", "不对", "再想想", "算了，再想想", "不取消了", "不订了"])
def test_typed_no(text: str) -> None:
    assert confirmation(text, "inform", DOMAIN) is False


@pytest.mark.parametrize("text", ["好的，改成四点", "不对，是6个人", "贵A12345", "13912345678", "明天下午三点"])
def test_other_messages_are_no_confirmation(text: str) -> None:
    assert confirmation(text, "inform", DOMAIN) is None


def test_button_titles_typed_mean_the_button() -> None:
    assert confirmation("仍然取消", "cancel_booking", DOMAIN) is True
    assert confirmation("不改了", "modify_booking", DOMAIN) is False


def test_correction_tail() -> None:
    assert correction_tail("不是三点，是四点") == "四点"
    assert correction_tail("不是这家，是花果园那家") == "花果园那家"
    assert correction_tail("明天下午三点") == "明天下午三点"


FULL_CAR = {
    **CAR,
    "booking_store": "gy-hgy-car",
    "booking_service": "basic_wash",
    "booking_date": TOMORROW.isoformat(),
    "booking_time": "15:00",
    "booking_plate": "贵A12345",
    "phone": "13900001111",
    "booking_new_customer": False,
}


async def test_a_typed_dui_confirms_the_summary_and_is_no_plate() -> None:
    slots, dispatcher = await run(
        ValidateBookingForm(), tracker("对", intent="inform", slots=FULL_CAR, requested="booking_confirm")
    )
    assert slots["booking_confirm"] is True
    assert "booking_plate" not in slots
    assert "utter_booking_plate_invalid" not in responses(dispatcher)


async def test_a_plate_given_when_the_store_was_asked_is_kept_and_no_store_is_called_wrong() -> None:
    slots, dispatcher = await run(
        ValidateBookingForm(),
        tracker("贵A77777", slots={**CAR, "booking_service": "minor_maintenance"}, requested="booking_store"),
    )
    assert slots["booking_plate"] == "贵A77777"
    assert slots.get("booking_store") is None
    assert "utter_booking_store_unknown" not in responses(dispatcher)
    assert slots["requested_slot"] == "booking_store"


async def test_one_message_fills_business_party_time_and_surname() -> None:
    slots, _ = await run(ValidateBookingForm(), tracker("帮我订明晚6点的位子，5个人，姓李", intent="book"))
    assert slots["business"] == "restaurant"
    assert (slots["party_size"], slots["booking_name"], slots["booking_time"]) == ("5", "李", "18:00")


async def test_the_business_and_its_details_are_read_from_the_first_message() -> None:
    slots, _ = await run(ValidateBookingForm(), tracker("想洗个车", intent="book"))
    assert (slots["business"], slots["booking_service"]) == ("car_care", "basic_wash")
    slots, _ = await run(ValidateBookingForm(), tracker("订个包间 明天晚上七点 12个人 九眼桥", intent="book"))
    assert (slots["business"], slots["booking_area"], slots["party_size"]) == ("restaurant", "private_room", "12")
    assert (slots["booking_store"], slots["booking_time"]) == ("cd-jj-food", "19:00")


async def test_a_plate_answering_which_service_means_car_care() -> None:
    # Only car care asks for a plate (policy/bookings.yml slots), so a plate names the business.
    slots, dispatcher = await run(
        ValidateBookingForm(), tracker("贵A36912 后天上午10点", intent="inform", requested="business")
    )
    assert (slots["business"], slots["booking_plate"], slots["booking_time"]) == ("car_care", "贵A36912", "10:00")
    assert "utter_booking_business_unknown" not in responses(dispatcher)


async def test_a_correction_replaces_the_time() -> None:
    base = {**FULL_CAR, "booking_plate": None}
    slots, _ = await run(ValidateBookingForm(), tracker("不是三点，是四点", slots=base, requested="booking_plate"))
    assert slots["booking_time"] == "16:00"
    assert "booking_plate" not in slots or slots["booking_plate"] is None


async def test_a_party_correction_at_the_summary_replaces_it() -> None:
    base = {
        "business": "restaurant",
        "booking_store": "gy-yy-food",
        "party_size": "4",
        "booking_area": "hall",
        "booking_date": TOMORROW.isoformat(),
        "booking_time": "12:00",
        "phone": "13900001111",
        "booking_new_customer": False,
    }
    slots, _ = await run(ValidateBookingForm(), tracker("哦不对，是6个人", slots=base, requested="booking_confirm"))
    assert slots["party_size"] == "6"
    assert not slots.get("booking_confirm")


async def test_cancel_right_after_a_booking_means_that_booking_and_a_typed_title_confirms(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    with crm_sessionmaker() as session:
        who = identified(demo(session, "demo-gold"))
        number = session.scalars(select(Booking.booking_number).where(Booking.customer_id == int(who["customer_id"])))
        number = next(iter(number))
    first, _ = await run(
        ValidateCancelBookingForm(),
        tracker("帮我取消", intent="cancel_booking", form="cancel_booking_form", slots={**who, "last_booking": number}),
    )
    assert first["booking_id"] == number and first["requested_slot"] == "booking_confirm"
    second, _ = await run(
        ValidateCancelBookingForm(),
        tracker(
            "确认取消",
            intent="cancel_booking",
            form="cancel_booking_form",
            slots={**who, "booking_id": number},
            requested="booking_confirm",
        ),
    )
    assert second["booking_confirm"] is True


async def test_a_change_said_in_the_first_message_is_kept(crm_sessionmaker: sessionmaker[Session]) -> None:
    with crm_sessionmaker() as session:
        who = identified(demo(session, "demo-iron"))
        number = next(
            iter(session.scalars(select(Booking.booking_number).where(Booking.customer_id == int(who["customer_id"]))))
        )
    # 三点 (15:00): early enough for the longest car-care service before the store closes at 19:00, whichever
    # service the generated seed gave this booking (五点 is refused with alternatives for a 3-hour coating).
    follow_up = tracker(
        "改到三点吧", intent="modify_booking", form="modify_booking_form", slots={**who, "last_booking": number}
    )
    slots, _ = await run(ValidateModifyBookingForm(), follow_up)
    assert slots["booking_id"] == number
    assert json.loads(slots["booking_change"])["time"] == "15:00"
    assert slots["requested_slot"] == "booking_confirm"


async def test_a_ten_digit_mobile_in_the_order_lookup_is_explained_precisely() -> None:
    dispatcher = CollectingDispatcher()
    events = await ValidateOrderLookupForm().run(
        dispatcher,
        tracker(
            "1868512000",
            form="order_lookup_form",
            slots={"order_id": "DD202611280016"},
            requested="phone",
        ),
        DOMAIN,
    )
    assert responses(dispatcher) == ["utter_booking_phone_length"]
    assert dispatcher.messages[0]["digits"] == 10
    assert {e["name"]: e["value"] for e in events if e["event"] == "slot"}["phone"] is None


@pytest.mark.parametrize(
    ("text", "form", "slot", "value"),
    [
        ("DD 2026 1128 0016", "order_lookup_form", "order_id", "DD202611280016"),
        ("202611280016", "order_lookup_form", "order_id", "DD202611280016"),
        ("YY202612020001", "booking_status_form", "booking_id", "YY202612020001"),
        ("TS202611200003", "complaint_status_form", "ticket_id", "TS202611200003"),
    ],
)
async def test_a_bare_number_is_a_lookup_whatever_the_intent(text: str, form: str, slot: str, value: str) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionRouteUnclaimed().run(dispatcher, tracker(text, intent="out_of_scope"), DOMAIN)
    assert {"event": "slot", "timestamp": None, "name": slot, "value": value} in events
    assert any(e.get("event") == "followup" and e.get("name") == form for e in events)
    assert not dispatcher.messages


async def test_an_unclaimed_message_without_a_number_gets_its_intents_reply() -> None:
    dispatcher = CollectingDispatcher()
    await ActionRouteUnclaimed().run(dispatcher, tracker("明天下雨吗", intent="out_of_scope"), DOMAIN)
    assert responses(dispatcher) == ["utter_out_of_scope"]


async def test_no_to_the_reference_question_answers_it_and_does_not_drop_the_complaint() -> None:
    from actions.complaints import ActionCancelComplaint

    asked = tracker("没有", intent="deny", form="complaint_form")
    asked.events.insert(0, {"event": "slot", "name": "requested_slot", "value": "complaint_reference"})
    dispatcher = CollectingDispatcher()
    events = await ActionCancelComplaint().run(dispatcher, asked, DOMAIN)
    assert {"event": "slot", "timestamp": None, "name": "complaint_reference", "value": "none"} in events
    assert any(e.get("event") == "followup" and e.get("name") == "complaint_form" for e in events)
    assert not dispatcher.messages


async def test_no_while_the_mobile_is_asked_answers_the_open_reference_question() -> None:
    """ "没有" (no order or booking) said after the bot moved on to the mobile still answers the reference."""
    from actions.complaints import ActionCancelComplaint

    asked = tracker("没有", intent="deny", form="complaint_form", slots={"complaint_description": "车门上多了一道划痕"})
    asked.events.insert(0, {"event": "slot", "name": "requested_slot", "value": "phone"})
    dispatcher = CollectingDispatcher()
    events = await ActionCancelComplaint().run(dispatcher, asked, DOMAIN)
    assert {"event": "slot", "timestamp": None, "name": "complaint_reference", "value": "none"} in events
    assert any(e.get("event") == "followup" and e.get("name") == "complaint_form" for e in events)
    assert not dispatcher.messages


@pytest.mark.parametrize("text", ["算了", "不用了"])
async def test_a_typed_no_to_another_question_drops_the_complaint(text: str) -> None:
    from actions.complaints import ActionCancelComplaint

    asked = tracker(text, intent="deny", form="complaint_form")
    asked.events.insert(0, {"event": "slot", "name": "requested_slot", "value": "phone"})
    dispatcher = CollectingDispatcher()
    await ActionCancelComplaint().run(dispatcher, asked, DOMAIN)
    assert responses(dispatcher) == ["utter_complaint_cancelled"]


async def test_no_to_another_question_drops_the_complaint() -> None:
    from actions.complaints import ActionCancelComplaint

    asked = tracker("算了", intent="deny", form="complaint_form")
    asked.events.insert(0, {"event": "slot", "name": "requested_slot", "value": "complaint_description"})
    dispatcher = CollectingDispatcher()
    await ActionCancelComplaint().run(dispatcher, asked, DOMAIN)
    assert responses(dispatcher) == ["utter_complaint_cancelled"]


async def test_a_complaint_about_this_order_right_after_looking_it_up_is_about_that_order(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    from actions.complaints import ValidateComplaintForm
    from crm.models import Order

    with crm_sessionmaker() as session:
        who = identified(demo(session, "demo-gold"))
        number = session.scalars(select(Order.order_number).where(Order.customer_id == int(who["customer_id"]))).first()
    slots, _ = await run(
        ValidateComplaintForm(),
        tracker(
            "这单怎么还没到，我要投诉", intent="complain", form="complaint_form", slots={**who, "last_order": number}
        ),
    )
    assert slots["complaint_reference"] == number


@pytest.mark.parametrize("text", ["改到五点吧", "再加一个人", "推到后天"])
async def test_a_change_right_after_a_booking_changes_that_booking(text: str) -> None:
    events = await ActionRouteUnclaimed().run(
        CollectingDispatcher(), tracker(text, intent="inform", slots={"last_booking": "YY202612020001"}), DOMAIN
    )
    assert any(e.get("event") == "followup" and e.get("name") == "modify_booking_form" for e in events)


@pytest.mark.parametrize(
    ("text", "last_booking", "cancels"),
    [
        ("算了 取消吧", "YY202612020001", True),
        ("不去了", "YY202612020001", True),
        ("算了 取消吧", None, False),  # nothing was just booked: a plain no
        ("算了不用了", "YY202612020001", False),  # declines more help; the booking stays
    ],
)
async def test_a_no_that_names_cancelling_right_after_a_booking_cancels_that_booking(
    text: str, last_booking: str | None, cancels: bool
) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerDeny().run(
        dispatcher, tracker(text, intent="deny", slots={"last_booking": last_booking}), DOMAIN
    )
    if cancels:
        assert [e.get("name") for e in events if e.get("event") == "followup"] == ["cancel_booking_form"]
        assert not dispatcher.messages
    else:
        assert not events and responses(dispatcher) == ["utter_ack_deny"]


async def test_without_a_booking_just_made_a_time_is_no_change() -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionRouteUnclaimed().run(dispatcher, tracker("改到五点吧", intent="inform"), DOMAIN)
    assert not events and responses(dispatcher) == ["utter_ack_inform"]


CAR_CARE = [{"entity": "business", "value": "car_care", "start": 8, "end": 10}]


@pytest.mark.parametrize(
    "text",
    ["明天下午4点花果园精洗 贵A99887", "下周六上午10点 春熙路 做西装", "后天晚上7点 吃饭 4个人", "想定制一套西装"],
)
async def test_details_of_a_visit_without_a_booking_verb_start_a_booking(text: str) -> None:
    """NLU may call "明天下午4点花果园精洗" inform: a business and a day or time are a booking request anyway."""
    dispatcher = CollectingDispatcher()
    events = await ActionRouteUnclaimed().run(dispatcher, tracker(text, intent="inform", entities=CAR_CARE), DOMAIN)
    assert any(e.get("event") == "followup" and e.get("name") == "booking_form" for e in events)
    assert not dispatcher.messages


@pytest.mark.parametrize(
    ("text", "intent", "entities"),
    [
        ("花果园店", "inform", []),  # no business named: the bot cannot know what to book
        ("洗车", "inform", CAR_CARE),  # no day or time: just a word
        ("明天北京的天气怎么样", "out_of_scope", []),
        ("明天去迪士尼洗车方便吗", "out_of_scope", CAR_CARE),  # out of scope stays out of scope
    ],
)
async def test_other_unclaimed_messages_start_no_booking(
    text: str, intent: str, entities: list[dict[str, object]]
) -> None:
    events = await ActionRouteUnclaimed().run(
        CollectingDispatcher(), tracker(text, intent=intent, entities=entities), DOMAIN
    )
    assert not any(e.get("event") == "followup" and e.get("name") == "booking_form" for e in events)


HOTEL_SO_FAR = {
    "business": "hotel",
    "booking_date": (TOMORROW + timedelta(days=1)).isoformat(),
    "booking_nights": 2,
    "booking_party_size": 2,
    "booking_service": "king",
}


def asked_the_store(text: str, mapped: dict[str, str]) -> Tracker:
    """The store is asked; `mapped` are what Rasa's own slot mappings took from the message (business was
    already set by an earlier message)."""
    asked = tracker(text, slots=HOTEL_SO_FAR, requested="booking_store", mapped=mapped)
    asked.events.insert(0, {"event": "slot", "name": "business", "value": "hotel"})
    return asked


async def test_a_mobile_rasa_mapped_while_the_store_is_asked_is_kept_and_not_called_a_wrong_store() -> None:
    slots, said = await run(ValidateBookingForm(), asked_the_store("13912345670", {"phone": "13912345670"}))
    assert slots["phone"] == "13912345670" and slots.get("booking_store") is None
    assert "utter_booking_store_unknown" not in responses(said)


async def test_a_slot_rasa_re_sets_to_the_same_value_does_not_hide_a_wrong_store() -> None:
    slots, said = await run(ValidateBookingForm(), asked_the_store("上海的酒店", {"business": "hotel"}))
    assert slots.get("booking_store") is None
    assert responses(said) == ["utter_booking_store_unknown"]
