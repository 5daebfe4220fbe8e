"""Books, modifies and cancels through the API with the real Rasa server, action server and CRM database."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select

from crm.models import Booking, Customer
from tests.e2e.conftest import LiveStack
from tests.e2e.test_chat import new_user, say

BOOKING_NUMBER = re.compile(r"YY\d{12}")
TZ = ZoneInfo("Asia/Shanghai")


def text_of(result: dict) -> str:
    return "\n".join(reply["text"] for reply in result["replies"])


def buttons_of(result: dict) -> list[dict]:
    return [button for reply in result["replies"] for button in reply.get("buttons") or []]


def answer_mobile_if_asked(api: httpx.Client, user: str, result: dict, mobile: str) -> dict:
    return say(api, user, mobile) if "手机号" in text_of(result) else result


def fresh_mobile() -> str:
    return f"139{random.randint(10**7, 10**8 - 1)}"


def test_book_modify_and_cancel_a_car_wash_as_an_anonymous_customer(api: httpx.Client, live_stack: LiveStack) -> None:
    user, mobile = new_user(), fresh_mobile()

    closed = say(api, user, "我想约明天晚上十点去花果园店洗车")
    assert "不营业" in text_of(closed), text_of(closed)
    choice = buttons_of(closed)[0]  # a free time as a button; like chat.js, a non-intent button sends its title
    assert not choice["payload"].startswith("/")
    plate_question = say(api, user, choice["title"])
    assert "车牌" in text_of(plate_question), text_of(plate_question)

    bad_plate = say(api, user, "贵A1234")
    assert "格式不对" in text_of(bad_plate)
    phone_question = say(api, user, "贵A12345")
    assert "手机号" in text_of(phone_question), text_of(phone_question)

    ten_digits = say(api, user, "1391234567")
    assert "10 位" in text_of(ten_digits), text_of(ten_digits)
    name_question = say(api, user, mobile)
    assert "称呼" in text_of(name_question), text_of(name_question)
    summary = say(api, user, "我姓王")
    assert "贵A12345" in text_of(summary) and "确认" in text_of(summary), text_of(summary)

    created = say(api, user, "确认")
    numbers = BOOKING_NUMBER.findall(text_of(created))
    assert numbers, text_of(created)
    number = numbers[0]
    say(api, user, "确认")  # a repeated confirmation must not book twice

    with live_stack.session_factory() as session:
        customer = session.scalar(select(Customer).where(Customer.mobile == mobile))
        assert customer is not None and customer.name == "王"
        assert session.scalar(select(func.count()).select_from(Booking).where(Booking.customer_id == customer.id)) == 1
        booking = session.scalar(select(Booking).where(Booking.booking_number == number))
        assert booking is not None and booking.status == "confirmed" and booking.plate_number == "贵A12345"

    # The mobile given for the booking stays known in this conversation; it is checked against the booking.
    asks_change = answer_mobile_if_asked(api, user, say(api, user, f"我要改预约 {number}"), mobile)
    assert "改成什么" in text_of(asks_change), text_of(asks_change)
    preview = say(api, user, "改到后天下午四点")
    assert "确认修改" in text_of(preview), text_of(preview)
    modified = say(api, user, "确认")
    assert "已修改" in text_of(modified), text_of(modified)
    day_after = (datetime.now(TZ) + timedelta(days=2)).date()
    with live_stack.session_factory() as session:
        booking = session.scalar(select(Booking).where(Booking.booking_number == number))
        assert booking is not None and booking.status == "modified"
        local = booking.start_at.astimezone(TZ)
        assert (local.date(), local.hour, local.minute) == (day_after, 16, 0)

    terms = answer_mobile_if_asked(api, user, say(api, user, f"取消预约{number}"), mobile)
    assert "现在取消免费" in text_of(terms), text_of(terms)
    cancelled = say(api, user, "确认")
    assert "已为您取消" in text_of(cancelled), text_of(cancelled)
    with live_stack.session_factory() as session:
        booking = session.scalar(select(Booking).where(Booking.booking_number == number))
        assert booking is not None and booking.status == "cancelled"


def test_someone_elses_booking_is_not_revealed(api: httpx.Client, live_stack: LiveStack) -> None:
    with live_stack.session_factory() as session:
        number = session.scalar(select(Booking.booking_number).where(Booking.status == "confirmed").limit(1))
    user = new_user()
    asks_mobile = say(api, user, f"查一下预约{number}")
    assert "手机号" in text_of(asks_mobile), text_of(asks_mobile)
    refused = say(api, user, fresh_mobile())
    assert "对不上" in text_of(refused), text_of(refused)
    assert number not in text_of(refused)
