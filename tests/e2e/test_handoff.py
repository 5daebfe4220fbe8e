"""The live handoff through the real stack (Rasa, action server, API hub, CRM): a platinum complaint goes to
the top of the queue with the complaint on record; an agent claims and replies and the customer gets it on
the websocket; the close asks for a rating, which is stored, and the bot answers again with what it knew;
a lead customer asking once is helped by the bot, asking twice is queued.

Service hours are set to all day for these tests (and restored), so they do not depend on the clock."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import select, update

from crm.models import Complaint, CsatResponse, Escalation, ServiceDesk
from crm.services import queue
from crm.services.accounts import DEMO_PASSWORD
from tests.e2e.conftest import LiveStack
from tests.e2e.test_chat import new_user, say
from tests.e2e.test_complaints import identity, text_of

TICKET = re.compile(r"TS\d{12}")
ALL_DAY = {day: [["00:00", "23:59"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


@pytest.fixture
def desk_open_all_day(live_stack: LiveStack) -> Iterator[None]:
    with live_stack.session_factory.begin() as session:
        desk = session.scalars(select(ServiceDesk)).one()
        before = desk.service_hours
        desk.service_hours = ALL_DAY
    try:
        yield
    finally:
        with live_stack.session_factory.begin() as session:
            session.execute(update(ServiceDesk).values(service_hours=before))


def close_open_handoffs(live_stack: LiveStack, conversation_id: int) -> None:
    """Leaves the demo customer's conversation with the bot for the other e2e tests."""
    with live_stack.session_factory.begin() as session:
        escalation = queue.open_escalation(session, conversation_id=conversation_id)
        if escalation is not None:
            queue.close(session, escalation_id=escalation.id, summary="e2e cleanup", outcome="resolved")


def staff_headers(api: httpx.Client, username: str) -> dict[str, str]:
    response = api.post("/api/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def ws_url(live_stack: LiveStack) -> str:
    return live_stack.api_url.replace("http://", "ws://") + "/api/widget/ws"


async def _receive_messages(
    live_stack: LiveStack, user: str, token: str, after_id: int, until: Any, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Connects as the customer's page and collects pushed messages after `after_id` until `until(messages)`."""
    messages: list[dict[str, Any]] = []
    async with websockets.connect(ws_url(live_stack)) as socket:
        await socket.send(json.dumps({"type": "hello", "user_id": user, "identity_token": token, "last_id": after_id}))
        while not until(messages):
            event = json.loads(await asyncio.wait_for(socket.recv(), timeout))
            if event.get("type") == "message":
                messages.append(event["message"])
    return messages


def test_platinum_complaint_is_queued_first_claimed_answered_closed_rated_and_the_bot_resumes(
    api: httpx.Client, live_stack: LiveStack, desk_open_all_day: None
) -> None:
    token = identity(api, "demo-platinum")
    user = new_user()
    filed = say(api, user, "你们花果园店的服务员态度太差了，我要投诉", identity_token=token)
    conversation_id = filed["conversation_id"]
    try:
        filed_text = text_of(filed)
        tickets = TICKET.findall(filed_text)
        assert len(tickets) == 1, filed_text  # on record, and the customer is told the number ...
        assert "正在为您转接人工客服" in filed_text, filed_text  # ... and that a person is coming
        with live_stack.session_factory() as session:
            complaint = session.scalars(select(Complaint).where(Complaint.ticket_number == tickets[0])).one()
            escalation = session.scalars(
                select(Escalation).where(Escalation.conversation_id == conversation_id, Escalation.status == "queued")
            ).one()
        assert complaint.status == "open"
        assert (escalation.priority, escalation.agent_group) == (100, "vip")

        lina = staff_headers(api, "agent.lina")
        items = api.get("/api/agent/queue", headers=lina).json()["items"]
        assert items[0]["priority"] == 100 and conversation_id in [item["conversation_id"] for item in items]
        assert max(item["priority"] for item in items) == 100

        last_id = filed["replies"][-1]["id"]
        assert api.post(f"/api/agent/conversations/{conversation_id}/claim", headers=lina).status_code == 200
        reply = api.post(
            f"/api/agent/conversations/{conversation_id}/messages",
            json={"text": "您好，我是李娜，马上为您处理"},
            headers=lina,
        )
        assert reply.status_code == 200, reply.text
        pushed = asyncio.run(
            _receive_messages(live_stack, user, token, last_id, lambda got: any(m["sender"] == "agent" for m in got))
        )
        assert [m["text"] for m in pushed if m["sender"] == "agent"] == ["您好，我是李娜，马上为您处理"]

        closed = api.post(
            f"/api/agent/conversations/{conversation_id}/close",
            json={"summary": "已致歉并安排回访", "outcome": "resolved"},
            headers=lina,
        )
        assert closed.status_code == 200, closed.text
        question = asyncio.run(
            _receive_messages(
                live_stack, user, token, reply.json()["id"], lambda got: any(m.get("buttons") for m in got)
            )
        )
        assert any("1-5" in m["text"] for m in question), question

        thanks = say(api, user, "5 处理很及时", identity_token=token)
        assert "感谢您的评价" in text_of(thanks), text_of(thanks)
        with live_stack.session_factory() as session:
            rating = session.scalars(select(CsatResponse).where(CsatResponse.conversation_id == conversation_id)).one()
        assert (rating.score, rating.comment, rating.escalation_id) == (5, "处理很及时", escalation.id)
        assert rating.agent_id is not None

        # The bot answers again, with what it knew before the handoff (the customer and the ticket).
        status = text_of(say(api, user, "我的投诉处理得怎么样了", identity_token=token))
        assert tickets[0] in status, status
    finally:
        close_open_handoffs(live_stack, conversation_id)


def test_lead_asking_once_is_helped_by_the_bot_asking_twice_is_queued(
    api: httpx.Client, live_stack: LiveStack, desk_open_all_day: None
) -> None:
    token = identity(api, "demo-lead")
    user = new_user()
    once = say(api, user, "转人工", identity_token=token)
    conversation_id = once["conversation_id"]
    try:
        once_text = text_of(once)
        assert "小悦先试着帮您处理" in once_text and "400-" in once_text, once_text  # the CRM's hotline
        with live_stack.session_factory() as session:
            assert queue.open_escalation(session, conversation_id=conversation_id) is None
        twice = text_of(say(api, user, "我要人工客服", identity_token=token))
        assert "正在为您转接人工客服" in twice, twice
        with live_stack.session_factory() as session:
            escalation = queue.open_escalation(session, conversation_id=conversation_id)
        assert escalation is not None and escalation.priority == 10
        # While queued the bot is silent: the customer's words wait for the agent.
        assert say(api, user, "还要等多久", identity_token=token)["replies"] == []
    finally:
        close_open_handoffs(live_stack, conversation_id)
