"""Complaints through the API with the real Rasa server, action server and CRM database."""

from __future__ import annotations

import re
import uuid

import httpx
from sqlalchemy import select

from crm.models import Complaint, Customer
from tests.e2e.conftest import LiveStack
from tests.e2e.test_chat import new_user, say

TICKET = re.compile(r"TS\d{12}")


def text_of(result: dict) -> str:
    return "\n".join(reply["text"] for reply in result["replies"])


def identity(api: httpx.Client, web_user_id: str) -> str:
    return api.get("/api/widget/dev-identity", params={"web_user_id": web_user_id}).json()["identity_token"]


def test_a_complaint_sent_twice_and_retried_opens_exactly_one_ticket(api: httpx.Client, live_stack: LiveStack) -> None:
    token = identity(api, "demo-gold")
    user = new_user()
    # Calm on purpose: an upset gold customer's complaint is handed to a person (tests/e2e/test_handoff.py).
    complaint = f"你们花果园店的服务员态度不好，我要投诉 {uuid.uuid4().hex[:6]}"

    first = say(api, user, complaint, identity_token=token, client_message_id=str(uuid.uuid4()))
    first_text = text_of(first)
    assert "非常抱歉" in first_text, first_text  # feelings first
    assert first_text.index("非常抱歉") < first_text.index("TS")
    tickets = TICKET.findall(first_text)
    assert len(tickets) == 1, first_text
    assert re.search(r"\d+小时内（(今天|明天|后天|\d+月\d+日).*\d{2}:\d{2}前）", first_text), first_text

    second_id = str(uuid.uuid4())
    second = say(api, user, complaint, identity_token=token, client_message_id=second_id)
    assert TICKET.findall(text_of(second)) == tickets, text_of(second)
    retry = say(api, user, complaint, identity_token=token, client_message_id=second_id)
    assert retry["duplicate"] is True

    with live_stack.session_factory() as session:
        gold = session.scalars(select(Customer).where(Customer.web_user_id == "demo-gold")).one()
        rows = session.scalars(select(Complaint).where(Complaint.description == complaint)).all()
    assert [row.ticket_number for row in rows] == tickets
    assert rows[0].customer_id == gold.id and rows[0].category == "service_attitude"
    assert rows[0].severity == "normal" and rows[0].status == "open"


def test_anonymous_complaint_then_status_by_number_and_mobile(api: httpx.Client, live_stack: LiveStack) -> None:
    user = new_user()
    mobile = f"137{uuid.uuid4().int % 10**8:08d}"
    asked = say(api, user, "我要投诉")
    assert "非常抱歉" in text_of(asked) and "发生了什么" in text_of(asked)
    described = say(api, user, "房间隔音太差了，隔壁吵了一整晚没睡着")
    assert "手机号" in text_of(described), text_of(described)
    ten_digits = say(api, user, "1371234567")
    assert "10 位数字" in text_of(ten_digits) and "11 位" in text_of(ten_digits), text_of(ten_digits)
    filed = say(api, user, mobile)
    tickets = TICKET.findall(text_of(filed))
    assert len(tickets) == 1, text_of(filed)
    assert "48小时内" in text_of(filed)  # unidentified: the lowest tier's SLA
    with live_stack.session_factory() as session:
        row = session.scalars(select(Complaint).where(Complaint.ticket_number == tickets[0])).one()
    assert row.customer_id is None and row.contact_mobile == mobile and row.category == "facilities"

    stranger = new_user()
    say(api, stranger, "帮我查一下投诉进度")
    say(api, stranger, tickets[0])
    wrong = say(api, stranger, "13900000000")
    wrong_text = text_of(wrong)
    assert "没有查到" in wrong_text and "处理状态" not in wrong_text and mobile[-4:] not in wrong_text

    owner = new_user()
    say(api, owner, f"投诉单{tickets[0]}处理得怎么样了")
    shown = text_of(say(api, owner, mobile))
    assert tickets[0] in shown and "处理状态" in shown, shown
    assert f"{mobile[:3]}****{mobile[-4:]}" in shown and mobile not in shown
