"""Order status actions against the seeded CRM, with the real domain's wording."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions.forms import says_it_has_no_number
from actions.orders import ActionCheckOrderStatus, ValidateOrderLookupForm
from crm.models import Customer, Order
from tests.actions.conftest import TrackerFactory
from tests.actions.helpers import DOMAIN


def shipped_order(session: Session) -> tuple[Order, Customer]:
    order = session.scalars(
        select(Order).where(Order.status == "in_transit", Order.carrier.is_not(None)).order_by(Order.id)
    ).first()
    return order, session.get(Customer, order.customer_id)


def identified(customer: Customer) -> dict:
    return {"customer_identified": True, "customer_id": str(customer.id)}


async def test_identified_customer_sees_status_timeline_carrier_and_eta(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker() as session:
        order, customer = shipped_order(session)
        tracking = order.tracking_number
    tracker = make_tracker(intent="order_status", slots={**identified(customer), "order_id": order.order_number})
    dispatcher = CollectingDispatcher()
    events = await ActionCheckOrderStatus().run(dispatcher, tracker, DOMAIN)

    message = dispatcher.messages[0]
    assert message["response"] == "utter_order_status"
    assert message["order_number"] == order.order_number
    assert message["status_label"] == "运输中"
    assert "下单" in message["timeline"] and "运输中" in message["timeline"]
    assert tracking in message["delivery"] and "预计送达" in message["delivery"]
    assert events == [
        SlotSet("order_id", None),
        SlotSet("order_lookup_by_mobile", None),
        SlotSet("last_order", order.order_number),
    ]


async def test_someone_elses_order_reads_as_not_found(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker() as session:
        order, owner = shipped_order(session)
        stranger = session.scalars(select(Customer).where(Customer.id != owner.id)).first()
    tracker = make_tracker(intent="order_status", slots={**identified(stranger), "order_id": order.order_number})
    dispatcher = CollectingDispatcher()
    await ActionCheckOrderStatus().run(dispatcher, tracker, DOMAIN)
    assert [m["response"] for m in dispatcher.messages] == ["utter_order_not_found"]
    assert "status_label" not in dispatcher.messages[0]


@pytest.mark.parametrize("use_owner_mobile", [True, False])
async def test_anonymous_customer_needs_the_mobile_on_the_order(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session], use_owner_mobile: bool
) -> None:
    with crm_sessionmaker() as session:
        order, owner = shipped_order(session)
        other = session.scalars(select(Customer).where(Customer.id != owner.id)).first()
    mobile = owner.mobile if use_owner_mobile else other.mobile
    tracker = make_tracker(intent="inform", slots={"order_id": order.order_number, "phone": mobile})
    dispatcher = CollectingDispatcher()
    await ActionCheckOrderStatus().run(dispatcher, tracker, DOMAIN)
    expected = "utter_order_status" if use_owner_mobile else "utter_order_not_found"
    assert dispatcher.messages[0]["response"] == expected


async def test_guessing_the_mobile_for_an_order_is_stopped_and_a_right_guess_then_reveals_nothing(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker() as session:
        order, owner = shipped_order(session)
        owner_mobile = owner.mobile

    async def attempt(mobile: str, sender: str) -> str:
        tracker = make_tracker(intent="inform", slots={"order_id": order.order_number, "phone": mobile})
        tracker.sender_id = sender
        dispatcher = CollectingDispatcher()
        await ActionCheckOrderStatus().run(dispatcher, tracker, DOMAIN)
        return str(dispatcher.messages[0]["response"])

    # Five wrong mobiles in one conversation: the sixth try is refused, even with the right mobile.
    for n in range(5):
        assert await attempt(f"1390000000{n}", sender="guesser") == ("utter_order_not_found")
    assert await attempt(owner_mobile, sender="guesser") == "utter_order_lookup_limited"
    # Twenty wrong mobiles from many conversations: the number itself is then protected for everyone.
    for n in range(15):
        assert await attempt(f"1370000{n:04d}", sender=f"guesser-{n}") == "utter_order_not_found"
    assert await attempt(owner_mobile, sender="someone-new") == "utter_order_lookup_limited"
    assert "转人工" in DOMAIN["responses"]["utter_order_lookup_limited"][0]["text"]


async def test_the_owner_checking_again_and_again_is_never_stopped(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker() as session:
        order, owner = shipped_order(session)
    for _ in range(12):
        tracker = make_tracker(intent="inform", slots={"order_id": order.order_number, "phone": owner.mobile})
        dispatcher = CollectingDispatcher()
        await ActionCheckOrderStatus().run(dispatcher, tracker, DOMAIN)
        assert dispatcher.messages[0]["response"] == "utter_order_status"


async def test_unknown_number_is_said_honestly_with_retry_and_human_buttons(
    make_tracker: TrackerFactory,
) -> None:
    tracker = make_tracker(intent="order_status", slots={"order_id": "DD209901010001", "phone": "13800000000"})
    dispatcher = CollectingDispatcher()
    await ActionCheckOrderStatus().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages[0]["response"] == "utter_order_not_found"
    buttons = DOMAIN["responses"]["utter_order_not_found"][0]["buttons"]
    assert {b["payload"] for b in buttons} == {"/order_status", "/request_human"}


async def test_my_orders_lists_recent_orders_as_buttons(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker() as session:
        customer = session.scalar(select(Customer).where(Customer.web_user_id == "demo-gold"))
        numbers = set(session.scalars(select(Order.order_number).where(Order.customer_id == customer.id)))
    tracker = make_tracker(intent="order_status", text="我的订单", slots=identified(customer))
    dispatcher = CollectingDispatcher()
    await ActionCheckOrderStatus().run(dispatcher, tracker, DOMAIN)
    message = dispatcher.messages[0]
    assert message["response"] == "utter_recent_orders"
    assert 1 <= len(message["buttons"]) <= 5
    for button in message["buttons"]:
        number = button["title"].split()[0]
        assert number in numbers
        assert button["payload"] == f'/order_status{{"order_id": "{number}"}}'


async def test_identified_customer_is_never_asked_for_a_mobile(make_tracker: TrackerFactory) -> None:
    form = ValidateOrderLookupForm()
    tracker = make_tracker(slots={"customer_identified": True, "customer_id": "7"})
    assert await form.required_slots(["order_id", "phone"], CollectingDispatcher(), tracker, DOMAIN) == []
    anonymous = make_tracker()
    assert await form.required_slots(["order_id", "phone"], CollectingDispatcher(), anonymous, DOMAIN) == [
        "order_id",
        "phone",
        "order_lookup_by_mobile",  # read from any message ("没有订单号"), never asked
    ]


@pytest.mark.parametrize("text", ["DD 2026 1120 0017", "ｄｄ２０２６１１２０００１７", "202611200017"])
async def test_order_number_is_read_from_free_text_when_asked(make_tracker: TrackerFactory, text: str) -> None:
    tracker = make_tracker(intent="inform", text=text, slots={"requested_slot": "order_id"})
    extracted = await ValidateOrderLookupForm().extract_order_id(CollectingDispatcher(), tracker, DOMAIN)
    assert extracted == {"order_id": "DD202611200017"}


def test_a_ten_digit_phone_is_explained_and_asked_again(make_tracker: TrackerFactory) -> None:
    dispatcher = CollectingDispatcher()
    result = ValidateOrderLookupForm().validate_phone("1381234567", dispatcher, make_tracker(), DOMAIN)
    assert result == {"phone": None, "invalid_attempts": 1}
    # Says precisely what is wrong: ten digits where a mobile has eleven.
    assert dispatcher.messages[0]["response"] == "utter_booking_phone_length"
    assert dispatcher.messages[0]["digits"] == 10


def demo_gold(session: Session) -> tuple[Customer, list[str]]:
    customer = session.scalar(select(Customer).where(Customer.web_user_id == "demo-gold"))
    numbers = session.scalars(
        select(Order.order_number).where(Order.customer_id == customer.id).order_by(Order.placed_at.desc())
    ).all()
    return customer, list(numbers)


NO_NUMBER = ["我买的西装到哪了，没有订单号", "订单号忘了，帮我查下快递", "不记得单号了", "没订单号"]


@pytest.mark.parametrize("text", NO_NUMBER)
async def test_an_anonymous_customer_without_a_number_is_asked_only_for_the_mobile(
    make_tracker: TrackerFactory, text: str
) -> None:
    form = ValidateOrderLookupForm()
    tracker = make_tracker(intent="order_status", text=text)
    extracted = await form.extract_order_lookup_by_mobile(CollectingDispatcher(), tracker, DOMAIN)
    assert extracted == {"order_lookup_by_mobile": True}
    by_mobile = make_tracker(intent="order_status", text=text, slots=extracted)
    assert await form.asked_slots(CollectingDispatcher(), by_mobile, DOMAIN) == ["phone"]
    # The form's question is the by-mobile variant, chosen by the slot (a conditional response).
    variants = DOMAIN["responses"]["utter_ask_order_lookup_form_phone"]
    assert variants[0]["condition"] == [{"type": "slot", "name": "order_lookup_by_mobile", "value": True}]
    assert "下单时填写的手机号" in variants[0]["text"]


async def test_a_mobile_where_the_number_was_asked_means_a_lookup_by_mobile(make_tracker: TrackerFactory) -> None:
    form = ValidateOrderLookupForm()
    tracker = make_tracker(intent="inform", text="下单手机号是13812345678", slots={"requested_slot": "order_id"})
    assert await form.extract_order_lookup_by_mobile(CollectingDispatcher(), tracker, DOMAIN) == {
        "order_lookup_by_mobile": True
    }
    # A number said later wins: the lookup is by number again.
    numbered = make_tracker(
        intent="inform", text="找到了 DD202611200017", slots={"order_lookup_by_mobile": True, "requested_slot": "phone"}
    )
    assert await form.extract_order_lookup_by_mobile(CollectingDispatcher(), numbered, DOMAIN) == {
        "order_lookup_by_mobile": None
    }
    # Identified customers never get there: nothing is asked at all.
    identified_tracker = make_tracker(text="没有订单号", slots={"customer_identified": True, "customer_id": "7"})
    assert form.read_anytime(identified_tracker) == []


async def test_a_mobile_alone_lists_its_orders_with_numbers_and_status_only(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker() as session:
        customer, numbers = demo_gold(session)
    slots = {"order_lookup_by_mobile": True, "phone": customer.mobile}
    tracker = make_tracker(intent="inform", text=f"下单手机号是{customer.mobile}", slots=slots)
    dispatcher = CollectingDispatcher()
    events = await ActionCheckOrderStatus().run(dispatcher, tracker, DOMAIN)

    message = dispatcher.messages[0]
    assert message["response"] == "utter_orders_of_mobile"
    assert message["orders"].splitlines()[0].startswith(f"· {numbers[0]}")
    assert message["count"] == min(5, len(numbers)) == len(message["buttons"])
    text = DOMAIN["responses"]["utter_orders_of_mobile"][0]["text"].format(**message)
    assert customer.mobile not in text and customer.name not in text and "¥" not in text
    assert "月" in message["orders"] and "下单" in message["orders"]
    assert SlotSet("order_lookup_by_mobile", None) in events and SlotSet("order_id", None) in events


async def test_an_unknown_mobile_is_told_honestly(make_tracker: TrackerFactory) -> None:
    tracker = make_tracker(intent="inform", slots={"order_lookup_by_mobile": True, "phone": "19999999999"})
    dispatcher = CollectingDispatcher()
    await ActionCheckOrderStatus().run(dispatcher, tracker, DOMAIN)
    assert dispatcher.messages[0]["response"] == "utter_no_orders_for_mobile"
    assert dispatcher.messages[0]["masked_mobile"] == "199****9999"


async def test_lookups_by_mobile_are_limited_per_conversation_and_per_mobile(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker() as session:
        customer, _ = demo_gold(session)

    async def attempt(mobile: str, sender: str) -> str:
        tracker = make_tracker(intent="inform", slots={"order_lookup_by_mobile": True, "phone": mobile})
        tracker.sender_id = sender
        dispatcher = CollectingDispatcher()
        await ActionCheckOrderStatus().run(dispatcher, tracker, DOMAIN)
        return str(dispatcher.messages[0]["response"])

    # Three look-ups in one conversation, found or not: the fourth is refused, even for a right mobile.
    assert await attempt("19999999990", sender="visitor") == "utter_no_orders_for_mobile"
    assert await attempt("19999999991", sender="visitor") == "utter_no_orders_for_mobile"
    assert await attempt(customer.mobile, sender="visitor") == "utter_orders_of_mobile"
    assert await attempt(customer.mobile, sender="visitor") == "utter_orders_by_mobile_limited"
    # Five look-ups of one mobile from any conversations: the mobile is then protected for everyone.
    for n in range(4):
        assert await attempt(customer.mobile, sender=f"visitor-{n}") == "utter_orders_of_mobile"
    assert await attempt(customer.mobile, sender="someone-new") == "utter_orders_by_mobile_limited"
    # The order number with its mobile still works: the limit is on reading a mobile's orders.
    assert "订单号" in DOMAIN["responses"]["utter_orders_by_mobile_limited"][0]["text"]


async def test_a_wrong_length_mobile_for_a_lookup_by_mobile_is_explained(make_tracker: TrackerFactory) -> None:
    form = ValidateOrderLookupForm()
    slots = {"order_lookup_by_mobile": True, "requested_slot": "phone"}
    tracker = make_tracker(intent="inform", text="下单手机号是1868512000", slots=slots)
    extracted = await form.extract_phone(CollectingDispatcher(), tracker, DOMAIN)
    dispatcher = CollectingDispatcher()
    result = form.validate_phone(extracted["phone"], dispatcher, tracker, DOMAIN)
    assert result == {"phone": None, "invalid_attempts": 1}
    assert dispatcher.messages[0]["response"] == "utter_booking_phone_length"
    assert dispatcher.messages[0]["digits"] == 10


@pytest.mark.parametrize(("text", "expected"), [*((text, True) for text in NO_NUMBER), ("帮我查下订单", False)])
def test_saying_there_is_no_number(text: str, expected: bool) -> None:
    assert says_it_has_no_number(text) is expected
    assert says_it_has_no_number("我的订单号是DD202611200017") is False
