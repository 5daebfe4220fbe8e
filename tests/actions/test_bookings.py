"""Booking forms and actions with real rasa_sdk trackers and the seeded CRM (seed anchor = today)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from actions import datetimes
from actions.bookings import (
    ActionAskBookingConfirm,
    ActionAskBookingId,
    ActionAskModifyConfirm,
    ActionBookingStatus,
    ActionCancelBooking,
    ActionModifyBooking,
    ActionSubmitBooking,
    ValidateBookingForm,
    ValidateCancelBookingForm,
    ValidateModifyBookingForm,
    find_plate,
)
from crm.models import Booking, Customer
from crm.numbers import BOOKING_NUMBER_RE
from tests.actions.helpers import DOMAIN, responses, slot_values

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime.combine(datetime.now(TZ).date(), datetime.min.time(), tzinfo=TZ).replace(hour=10)
TOMORROW = (NOW + timedelta(days=1)).date()


@pytest.fixture(autouse=True)
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datetimes, "now", lambda: NOW)


def tracker(
    text: str,
    *,
    intent: str = "inform",
    form: str = "booking_form",
    slots: dict[str, Any] | None = None,
    requested: str | None = None,
    entities: list[dict[str, Any]] | None = None,
    mapped: dict[str, Any] | None = None,
) -> Tracker:
    """The tracker Rasa sends to a form's validation action; `mapped` are slots Rasa set from entities."""
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.99}, "entities": entities or []}
    slot_events = [{"event": "slot", "name": name, "value": value} for name, value in (mapped or {}).items()]
    return Tracker.from_dict(
        {
            "sender_id": "web:booking-test",
            "slots": {"requested_slot": requested, **(slots or {}), **(mapped or {})},
            "latest_message": latest,
            "events": [
                {"event": "user", "text": text, "parse_data": latest},
                {"event": "action", "name": form},
                *slot_events,  # Rasa appends the slot candidates after the form's action event
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": form},
            "latest_action_name": form,
        }
    )


async def run(action: Any, tracker_: Tracker) -> tuple[dict[str, Any], CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker_, DOMAIN)
    return slot_values(events), dispatcher


def demo(session: Session, web_user_id: str) -> Customer:
    return session.scalars(select(Customer).where(Customer.web_user_id == web_user_id)).one()


def identified(person: Customer) -> dict[str, Any]:
    return {"customer_identified": True, "customer_id": str(person.id)}


CAR = {"business": "car_care"}


async def test_one_message_fills_store_service_day_and_time_then_asks_the_plate(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    with crm_sessionmaker() as session:
        who = identified(demo(session, "demo-gold"))
    slots, _ = await run(
        ValidateBookingForm(), tracker("我想约明天下午三点去花果园洗车", intent="book", slots={**CAR, **who})
    )
    assert slots["booking_store"] == "gy-hgy-car"
    assert slots["booking_service"] == "basic_wash"
    assert (slots["booking_date"], slots["booking_time"]) == (TOMORROW.isoformat(), "15:00")
    assert slots["requested_slot"] == "booking_plate"


async def test_bare_hour_is_read_as_the_afternoon_when_the_store_is_closed_in_the_morning() -> None:
    base = {**CAR, "booking_store": "gy-hgy-car", "booking_service": "basic_wash", "booking_date": TOMORROW.isoformat()}
    slots, _ = await run(ValidateBookingForm(), tracker("三点", slots=base, requested="booking_time"))
    assert slots["booking_time"] == "15:00"


async def test_a_day_without_a_time_asks_for_the_time() -> None:
    base = {**CAR, "booking_store": "gy-hgy-car", "booking_service": "basic_wash"}
    slots, _ = await run(ValidateBookingForm(), tracker("周五", slots=base, requested="booking_date"))
    assert slots["booking_date"] and slots["requested_slot"] == "booking_time"


async def test_correction_of_the_store_replaces_it() -> None:
    base = {**CAR, "booking_store": "gy-gsh-car", "booking_service": "basic_wash", "booking_plate": "贵A12345"}
    slots, _ = await run(
        ValidateBookingForm(), tracker("不是这家，是花果园那家", intent="deny", slots=base, requested="booking_date")
    )
    assert slots["booking_store"] == "gy-hgy-car"


async def test_closed_hour_is_refused_with_free_times_as_buttons_the_form_can_read() -> None:
    base = {**CAR, "booking_store": "gy-hgy-car", "booking_service": "basic_wash", "booking_date": TOMORROW.isoformat()}
    slots, dispatcher = await run(ValidateBookingForm(), tracker("晚上十点", slots=base, requested="booking_time"))
    assert slots["booking_time"] is None and slots["requested_slot"] == "booking_time"
    problem = next(m for m in dispatcher.messages if m["response"] == "utter_booking_problem_closed")
    assert problem["buttons"]
    payload = problem["buttons"][0]["payload"]
    again, _ = await run(ValidateBookingForm(), tracker(payload, slots=base, requested="booking_time"))
    assert again["booking_time"] == payload[-5:]
    assert "booking_time" not in {k for k, v in again.items() if v is None}


@pytest.mark.parametrize("text", ["13月5号", "2月30号"])
async def test_impossible_dates_are_explained(text: str) -> None:
    base = {**CAR, "booking_store": "gy-hgy-car", "booking_service": "basic_wash"}
    slots, dispatcher = await run(ValidateBookingForm(), tracker(text, slots=base, requested="booking_date"))
    assert slots["booking_date"] is None
    assert "utter_booking_date_impossible" in responses(dispatcher)


@pytest.mark.parametrize(
    ("text", "response"), [("0位", "utter_booking_party_unclear"), ("100位", "utter_booking_problem_party_too_large")]
)
async def test_impossible_party_sizes_are_explained(text: str, response: str) -> None:
    slots, dispatcher = await run(
        ValidateBookingForm(),
        tracker(
            text,
            slots={"business": "restaurant"},
            requested="party_size",
            entities=[{"entity": "party_size", "value": text}],
            mapped={"party_size": text},
        ),
    )
    assert slots["party_size"] is None
    assert response in responses(dispatcher)


@pytest.mark.parametrize(
    ("text", "plate"), [("贵A12345", "贵A12345"), ("川AD12345", "川AD12345"), ("贵a·5n321", "贵A5N321")]
)
def test_valid_plates(text: str, plate: str) -> None:
    assert find_plate(text) == (plate, True)


@pytest.mark.parametrize("text", ["贵A1234", "贵AI2345", "贵A123456"])
def test_invalid_plates(text: str) -> None:
    assert find_plate(text) == (None, True)


async def test_invalid_plate_is_explained_and_asked_again() -> None:
    base = {**CAR, "booking_store": "gy-hgy-car", "booking_service": "basic_wash"}
    slots, dispatcher = await run(ValidateBookingForm(), tracker("贵A1234", slots=base, requested="booking_plate"))
    assert slots["booking_plate"] is None and "utter_booking_plate_invalid" in responses(dispatcher)


async def test_ten_digit_mobile_is_explained_and_a_person_offered_on_the_third_try() -> None:
    base = {**CAR, "customer_identified": False}
    slots, dispatcher = await run(ValidateBookingForm(), tracker("1381234567", slots=base, requested="phone"))
    assert slots["phone"] is None and slots["invalid_attempts"] == 1
    assert responses(dispatcher)[0] == "utter_booking_phone_length"
    assert dispatcher.messages[0]["digits"] == 10
    _, third = await run(
        ValidateBookingForm(), tracker("1381234567", slots={**base, "invalid_attempts": 2}, requested="phone")
    )
    assert "utter_offer_human" in responses(third)


async def test_an_unknown_mobile_asks_for_a_name_a_known_one_does_not() -> None:
    base = {**CAR, "customer_identified": False}
    new, _ = await run(ValidateBookingForm(), tracker("13911112222", slots=base, requested="phone"))
    assert new["phone"] == "13911112222" and new["booking_new_customer"] is True
    known, _ = await run(ValidateBookingForm(), tracker("13885120001", slots=base, requested="phone"))
    assert known["booking_new_customer"] is False


async def test_identified_customers_are_never_asked_for_a_mobile(crm_sessionmaker: sessionmaker[Session]) -> None:
    with crm_sessionmaker() as session:
        who = identified(demo(session, "demo-gold"))
    needed = await ValidateBookingForm().required_slots(
        [], CollectingDispatcher(), tracker("", slots={**CAR, **who}), DOMAIN
    )
    assert "phone" not in needed and "booking_name" not in needed


def complete_car_booking(day: date) -> dict[str, Any]:
    return {
        **CAR,
        "booking_store": "gy-hgy-car",
        "booking_service": "fine_wash",
        "booking_date": day.isoformat(),
        "booking_time": "11:00",
        "booking_plate": "贵A12345",
        "customer_identified": False,
        "phone": "13922223333",
        "booking_name": "王",
        "booking_confirm": True,
    }


async def test_the_summary_repeats_the_name_and_mobile_the_booking_will_be_under() -> None:
    slots = {**complete_car_booking(TOMORROW + timedelta(days=2)), "booking_confirm": None}
    _, said = await run(ActionAskBookingConfirm(), tracker("我姓王", slots=slots))
    assert responses(said) == ["utter_booking_summary_car_care", "utter_ask_booking_confirm_mobile"]
    assert (said.messages[1]["contact"], said.messages[1]["mobile"]) == ("联系人：王，", "13922223333")
    _, said = await run(ActionAskBookingConfirm(), tracker("13922223333", slots={**slots, "booking_name": None}))
    assert said.messages[1]["contact"] == ""  # no name given: the line starts with the mobile


async def test_submitting_twice_creates_one_booking_for_a_new_customer(crm_sessionmaker: sessionmaker[Session]) -> None:
    slots = complete_car_booking(TOMORROW + timedelta(days=2))
    _, first = await run(ActionSubmitBooking(), tracker("确认", intent="affirm", slots=slots))
    _, second = await run(ActionSubmitBooking(), tracker("确认", intent="affirm", slots=slots))
    numbers = [
        m["booking_number"] for d in (first, second) for m in d.messages if m["response"] == "utter_booking_created"
    ]
    assert len(numbers) == 2 and numbers[0] == numbers[1] and BOOKING_NUMBER_RE.fullmatch(numbers[0])
    with crm_sessionmaker() as session:
        rows = session.scalars(select(Booking).where(Booking.booking_number == numbers[0])).all()
        assert len(rows) == 1 and rows[0].plate_number == "贵A12345"
        customer = session.get(Customer, rows[0].customer_id)
        assert customer is not None and (customer.mobile, customer.name) == ("13922223333", "王")


async def test_cancel_needs_the_mobile_on_the_booking(crm_sessionmaker: sessionmaker[Session]) -> None:
    slots = complete_car_booking(TOMORROW + timedelta(days=3))
    _, created = await run(ActionSubmitBooking(), tracker("确认", intent="affirm", slots=slots))
    number = created.messages[0]["booking_number"]
    wrong, dispatcher = await run(
        ValidateCancelBookingForm(),
        tracker(
            "13800000000",
            form="cancel_booking_form",
            slots={"booking_id": number, "customer_identified": False},
            requested="phone",
        ),
    )
    assert wrong["phone"] is None and wrong["booking_id"] is None
    assert responses(dispatcher) == ["utter_booking_mismatch"]
    right, _ = await run(
        ValidateCancelBookingForm(),
        tracker(
            "13922223333",
            form="cancel_booking_form",
            slots={"booking_id": number, "customer_identified": False},
            requested="phone",
        ),
    )
    assert right["phone"] == "13922223333" and right.get("requested_slot", "booking_confirm") == "booking_confirm"
    _, done = await run(
        ActionCancelBooking(),
        tracker(
            "确认",
            intent="affirm",
            form="cancel_booking_form",
            slots={"booking_id": number, "phone": "13922223333", "customer_identified": False},
        ),
    )
    assert responses(done) == ["utter_booking_cancelled_free"]
    with crm_sessionmaker() as session:
        assert session.scalar(select(Booking.status).where(Booking.booking_number == number)) == "cancelled"


async def test_identified_customer_chooses_among_upcoming_bookings(crm_sessionmaker: sessionmaker[Session]) -> None:
    with crm_sessionmaker() as session:
        person = demo(session, "demo-platinum")
        count = session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(
                Booking.customer_id == person.id, Booking.status.in_(("confirmed", "modified")), Booking.end_at > NOW
            )
        )
    _, dispatcher = await run(
        ActionAskBookingId(), tracker("我的预约", intent="cancel_booking", slots=identified(person))
    )
    message = dispatcher.messages[0]
    if count == 0:
        assert message["response"] == "utter_ask_booking_id_none_upcoming"
    else:
        assert message["response"] == "utter_ask_booking_id_choose"
        assert all(BOOKING_NUMBER_RE.fullmatch(button["payload"]) for button in message["buttons"])


async def test_status_of_someone_elses_booking_is_not_revealed(crm_sessionmaker: sessionmaker[Session]) -> None:
    with crm_sessionmaker() as session:
        gold = demo(session, "demo-gold")
        platinum = demo(session, "demo-platinum")
        number = session.scalar(select(Booking.booking_number).where(Booking.customer_id == platinum.id).limit(1))
    _, dispatcher = await run(
        ActionBookingStatus(),
        tracker(
            "查预约",
            intent="booking_status",
            form="booking_status_form",
            slots={**identified(gold), "booking_id": number},
        ),
    )
    assert responses(dispatcher) == ["utter_booking_not_found"]
    _, own = await run(
        ActionBookingStatus(),
        tracker(
            "查预约",
            intent="booking_status",
            form="booking_status_form",
            slots={**identified(platinum), "booking_id": number},
        ),
    )
    assert responses(own) == ["utter_booking_status"]
    assert "*" in own.messages[0]["mobile"] and "*" in own.messages[0]["name"]


async def test_modify_reads_the_new_time_and_checks_it(crm_sessionmaker: sessionmaker[Session]) -> None:
    slots = complete_car_booking(TOMORROW + timedelta(days=4))
    _, created = await run(ActionSubmitBooking(), tracker("确认", intent="affirm", slots=slots))
    number = created.messages[0]["booking_number"]
    base = {"booking_id": number, "phone": "13922223333", "customer_identified": False}
    changed, _ = await run(
        ValidateModifyBookingForm(),
        tracker(
            "改成四点半", intent="modify_booking", form="modify_booking_form", slots=base, requested="booking_change"
        ),
    )
    assert (
        changed["booking_change"] == '{"time": "16:30"}'
        and changed.get("requested_slot", "booking_confirm") == "booking_confirm"
    )
    closed, dispatcher = await run(
        ValidateModifyBookingForm(),
        tracker(
            "改到晚上十点", intent="modify_booking", form="modify_booking_form", slots=base, requested="booking_change"
        ),
    )
    assert closed["booking_change"] is None and "utter_booking_problem_closed" in responses(dispatcher)


async def test_a_check_out_day_said_unasked_gives_the_nights() -> None:
    slots, _ = await run(ValidateBookingForm(), tracker("观山湖酒店明天入住，后天退房，家庭房，3个人", intent="book"))
    assert (slots["business"], slots["booking_store"], slots["booking_service"]) == ("hotel", "gy-gsh-hotel", "family")
    assert (slots["booking_date"], slots["booking_nights"], slots["party_size"]) == (TOMORROW.isoformat(), "1", "3")
    assert slots["requested_slot"] == "phone"  # anonymous: only the mobile is left


async def test_a_check_out_day_answering_how_long_keeps_the_check_in_day() -> None:
    stay = {
        "business": "hotel",
        "booking_store": "gy-gsh-hotel",
        "booking_service": "king",
        "booking_date": TOMORROW.isoformat(),
    }
    for answer in ("大后天退房", "大后天"):
        slots, _ = await run(ValidateBookingForm(), tracker(answer, slots=stay, requested="booking_nights"))
        assert slots["booking_nights"] == "2" and "booking_date" not in slots, answer


async def test_a_booking_cancelled_between_the_summary_and_the_yes_gets_a_polite_answer(
    crm_sessionmaker: sessionmaker[Session],
) -> None:
    slots = complete_car_booking(TOMORROW + timedelta(days=5))
    _, created = await run(ActionSubmitBooking(), tracker("确认", intent="affirm", slots=slots))
    number = created.messages[0]["booking_number"]
    base = {"booking_id": number, "phone": "13922223333", "customer_identified": False}
    change = {**base, "booking_change": '{"time": "16:30"}', "booking_confirm": True}
    await run(ActionCancelBooking(), tracker("取消", intent="affirm", form="cancel_booking_form", slots=base))

    events, said = await run(ActionModifyBooking(), tracker("确认修改", intent="affirm", slots=change))
    assert responses(said) == ["utter_booking_not_modifiable"]  # cancelled meanwhile: said, not a server error
    assert events["booking_id"] is None and events["booking_change"] is None
    with crm_sessionmaker() as session:
        row = session.scalars(select(Booking).where(Booking.booking_number == number)).one()
        assert row.status == "cancelled" and row.start_at.astimezone(TZ).hour == 11


@pytest.mark.parametrize("change", [None, "!", "{not json"])
async def test_a_confirmed_change_whose_details_are_gone_is_asked_again_not_a_crash(
    change: str | None, crm_sessionmaker: sessionmaker[Session]
) -> None:
    slots = complete_car_booking(TOMORROW + timedelta(days=6))
    _, created = await run(ActionSubmitBooking(), tracker("确认", intent="affirm", slots=slots))
    base = {"booking_id": created.messages[0]["booking_number"], "phone": "13922223333", "customer_identified": False}
    _, asked = await run(
        ActionAskModifyConfirm(), tracker("好", form="modify_booking_form", slots={**base, "booking_change": change})
    )
    assert responses(asked) == ["utter_booking_change_unclear"]
    _, said = await run(ActionModifyBooking(), tracker("确认修改", slots={**base, "booking_change": change}))
    assert responses(said) == ["utter_booking_change_unclear"]
