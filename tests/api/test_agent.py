"""The agent console API via TestClient on a seeded database: queue order, claim (409s), conversation view
with the customer card, replies, close, notes, transfer, compensation, abuse flag, tier override."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.channels.identity import sign_web_user_id
from api.hub import csat_step
from api.main import create_app
from core.settings import Settings
from crm.models import Agent, CompensationOffer, Conversation, CsatResponse, Customer, Message, TierChange
from crm.services import conversation_ownership, queue
from crm.services.accounts import DEMO_PASSWORD
from crm.services.csat import record_csat
from crm.services.escalation_rules import Counters, Signal, decide, load_escalation_rules, load_service_desk

OPEN_HOURS = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)  # 11:00 in Shanghai


@dataclass
class Console:
    client: TestClient
    factory: sessionmaker[Session]

    def headers(self, username: str) -> dict[str, str]:
        response = self.client.post("/api/auth/login", json={"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def escalate(self, web_user_id: str, signal: Signal, counters: Counters, business: str | None, waited: int) -> int:
        """What the bot side will do: open a conversation, decide by the rules, queue it.

        `web_user_id` "any-iron" picks a generated iron customer (no web identity)."""
        with self.factory.begin() as session:
            query = (
                select(Customer).where(
                    Customer.web_user_id.is_(None), Customer.tier == "iron", Customer.tier_override.is_(None)
                )
                if web_user_id == "any-iron"
                else select(Customer).where(Customer.web_user_id == web_user_id)
            )
            customer = session.scalars(query.order_by(Customer.id)).first()
            assert customer is not None
            conversation = Conversation(
                channel="web",
                channel_user_id=web_user_id,
                customer_id=customer.id,
                rasa_sender_id=f"web:{web_user_id}:test",
                started_at=OPEN_HOURS,
            )
            session.add(conversation)
            session.flush()
            session.add(
                Message(
                    conversation_id=conversation.id,
                    direction="in",
                    sender="customer",
                    text="转人工",
                    created_at=OPEN_HOURS,
                )
            )
            session.add(
                Message(
                    conversation_id=conversation.id,
                    direction="out",
                    sender="bot",
                    text="好的，正在为您转接",
                    created_at=OPEN_HOURS,
                )
            )
            decision = decide(
                load_escalation_rules(),
                customer.effective_tier,
                signal,
                counters,
                OPEN_HOURS,
                load_service_desk(session),  # type: ignore[arg-type]
            )
            assert decision.action == "escalate", decision
            queue.enqueue(
                session,
                conversation_id=conversation.id,
                decision=decision,
                business_code=business,
                now=datetime.now(timezone.utc) - timedelta(seconds=waited),
            )
            return conversation.id


@pytest.fixture
def console(seeded_sessionmaker: sessionmaker[Session]) -> Iterator[Console]:
    settings = Settings(jwt_secret="x" * 40)
    with TestClient(create_app(seeded_sessionmaker, settings)) as client:
        yield Console(client, seeded_sessionmaker)


REQUEST = Signal("explicit_request")


def test_queue_is_in_serving_order_with_the_contract_fields(console: Console) -> None:
    iron = console.escalate("demo-iron", REQUEST, Counters(explicit_requests=1), "car_care", waited=300)
    platinum = console.escalate("demo-platinum", Signal("complaint", "low"), Counters(), "hotel", waited=5)
    gold = console.escalate("demo-gold", REQUEST, Counters(explicit_requests=1), "restaurant", waited=60)
    lead = console.escalate("demo-lead", REQUEST, Counters(explicit_requests=2), "menswear", waited=900)

    response = console.client.get("/api/agent/queue", headers=console.headers("agent.lina"))
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["conversation_id"] for item in items] == [platinum, gold, iron, lead]
    first = items[0]
    assert {"conversation_id", "customer_id", "tier", "priority", "reason", "waiting_seconds", "sla_due_at"} <= set(
        first
    )
    assert (first["tier"], first["priority"]) == ("platinum", 100)
    assert "complaint" in first["reason"]
    assert items[2]["waiting_seconds"] >= 300
    due = datetime.fromisoformat(first["sla_due_at"].replace("Z", "+00:00"))
    assert timedelta(seconds=20) < due - (datetime.now(timezone.utc) - timedelta(seconds=5)) <= timedelta(seconds=31)


def test_claim_reply_view_and_close(console: Console) -> None:
    conversation_id = console.escalate("demo-platinum", Signal("complaint", "high"), Counters(), "hotel", waited=10)
    lina = console.headers("agent.lina")  # vip group, but no hotel skill
    chenjing = console.headers("agent.chenjing")  # vip group with the hotel skill
    zhoumin = console.headers("agent.zhoumin")  # hotel skill, not in the vip group

    refused = console.client.post(f"/api/agent/conversations/{conversation_id}/claim", headers=lina)
    assert (refused.status_code, refused.json()["detail"]["code"]) == (409, "not_qualified")
    refused = console.client.post(f"/api/agent/conversations/{conversation_id}/claim", headers=zhoumin)
    assert refused.status_code == 409
    claimed = console.client.post(f"/api/agent/conversations/{conversation_id}/claim", headers=chenjing)
    assert claimed.status_code == 200 and claimed.json()["status"] == "assigned"
    assert console.client.post(f"/api/agent/conversations/{conversation_id}/claim", headers=chenjing).status_code == 200
    taken = console.client.post(f"/api/agent/conversations/{conversation_id}/claim", headers=lina)
    assert taken.status_code == 409
    assert console.client.get("/api/agent/queue", headers=chenjing).json()["items"] == []

    # Someone who does not own it may not reply.
    stranger = console.client.post(
        f"/api/agent/conversations/{conversation_id}/messages", json={"text": "hi"}, headers=lina
    )
    assert (stranger.status_code, stranger.json()["detail"]["code"]) == (409, "not_your_conversation")
    reply = console.client.post(
        f"/api/agent/conversations/{conversation_id}/messages",
        json={"text": "林先生您好，我来帮您处理"},
        headers=chenjing,
    )
    assert reply.status_code == 200
    assert (reply.json()["sender"], reply.json()["direction"]) == ("agent", "out")
    assert (
        console.client.post(
            f"/api/agent/conversations/{conversation_id}/messages", json={"text": "   "}, headers=chenjing
        ).status_code
        == 422
    )

    view = console.client.get(f"/api/agent/conversations/{conversation_id}", headers=chenjing).json()
    assert set(view) >= {"conversation", "transcript", "customer", "escalation", "csat"}
    senders = [message["sender"] for message in view["transcript"]]
    assert senders == ["customer", "bot", "system", "agent"]  # one greeting although claimed twice
    assert "陈静" in view["transcript"][2]["text"]  # the customer is told who serves them
    card = view["customer"]
    assert (card["tier"], card["name"]) == ("platinum", "林浩然")
    assert "rank" in card["tier_reason"] and card["churn"]["status"] == "active"
    assert card["recent_orders"] and float(card["trailing_spend"]) > 10000
    assert "upcoming_bookings" in card and "open_complaints" in card and "past_conversations" in card
    assert view["escalation"]["first_response_at"] is not None and view["csat"] is None

    note = console.client.post(
        f"/api/agent/conversations/{conversation_id}/notes", json={"text": "酒店房费问题"}, headers=chenjing
    )
    assert note.status_code == 200 and note.json()["author"] == "agent.chenjing"
    points = console.client.post(
        f"/api/agent/conversations/{conversation_id}/compensation",
        json={"points": 1000, "note": "致歉"},
        headers=chenjing,
    )
    assert points.status_code == 200 and points.json()["kind"] == "points"
    both = console.client.post(
        f"/api/agent/conversations/{conversation_id}/compensation",
        json={"points": 1, "coupon_amount": "5"},
        headers=chenjing,
    )
    assert both.status_code == 422

    bad = console.client.post(
        f"/api/agent/conversations/{conversation_id}/close", json={"summary": "x", "outcome": "done"}, headers=chenjing
    )
    assert bad.status_code == 422
    closed = console.client.post(
        f"/api/agent/conversations/{conversation_id}/close",
        json={"summary": "已为客户退还多收房费并补偿积分", "outcome": "resolved"},
        headers=chenjing,
    )
    assert closed.status_code == 200 and closed.json()["outcome"] == "resolved"
    with console.factory.begin() as session:
        rating = record_csat(session, conversation_id=conversation_id, score=2, comment="处理太慢")
        assert rating.follow_up_task_id is not None
        assert (
            session.scalar(
                select(CompensationOffer.points).where(CompensationOffer.escalation_id == closed.json()["id"])
            )
            == 1000
        )
    overview = console.client.get("/api/agent/supervisor", headers=console.headers("supervisor")).json()
    assert [task["kind"] for task in overview["follow_up_tasks"]] == ["low_csat"]
    assert "处理太慢" in overview["follow_up_tasks"][0]["description"]
    view = console.client.get(f"/api/agent/conversations/{conversation_id}", headers=chenjing).json()
    assert view["transcript"][-1]["sender"] == "system"
    assert (view["csat"]["score"], view["csat"]["agent_id"]) == (2, closed.json()["agent_id"])
    assert view["escalation"]["status"] == "closed" and view["notes"][0]["text"] == "酒店房费问题"


def test_capacity_gives_409(console: Console) -> None:
    with console.factory.begin() as session:
        agent = session.scalar(select(Agent).where(Agent.username == "agent.wangqiang"))
        assert agent is not None
        capacity = agent.max_concurrent
    wangqiang = console.headers("agent.wangqiang")
    conversations = [
        console.escalate(f"demo-{tier}", REQUEST, Counters(explicit_requests=2), "car_care", waited=1)
        for tier in ("gold", "iron", "lead")
    ]
    assert len(conversations) == capacity
    extra = console.escalate("demo-platinum", Signal("fallback"), Counters(consecutive_fallbacks=1), None, waited=1)
    for conversation_id in conversations:
        assert (
            console.client.post(f"/api/agent/conversations/{conversation_id}/claim", headers=wangqiang).status_code
            == 200
        )
    with console.factory.begin() as session:  # the platinum one needs the vip group: open it to everyone
        escalation = queue.open_escalation(session, conversation_id=extra)
        assert escalation is not None
        queue.transfer(session, escalation_id=escalation.id, author="supervisor", to_group=None or "")  # type: ignore[arg-type]
    full = console.client.post(f"/api/agent/conversations/{extra}/claim", headers=wangqiang)
    assert full.status_code == 409


def test_transfer_abuse_flag_and_tier_override(console: Console) -> None:
    conversation_id = console.escalate("demo-gold", REQUEST, Counters(explicit_requests=1), "restaurant", waited=1)
    zhoumin, liuyang = console.headers("agent.zhoumin"), console.headers("agent.liuyang")
    assert console.client.post(f"/api/agent/conversations/{conversation_id}/claim", headers=zhoumin).status_code == 200
    with console.factory() as session:
        liuyang_id = session.scalar(select(Agent.id).where(Agent.username == "agent.liuyang"))
        customer_id = session.scalar(select(Customer.id).where(Customer.web_user_id == "demo-gold"))
    moved = console.client.post(
        f"/api/agent/conversations/{conversation_id}/transfer", json={"agent_id": liuyang_id}, headers=zhoumin
    )
    assert moved.status_code == 200 and moved.json()["agent_id"] == liuyang_id
    assert (
        console.client.post(
            f"/api/agent/conversations/{conversation_id}/transfer", json={}, headers=liuyang
        ).status_code
        == 422
    )

    flagged = console.client.post(
        f"/api/agent/customers/{customer_id}/abuse", json={"note": "多次辱骂"}, headers=liuyang
    )
    assert flagged.status_code == 204
    card = console.client.get(f"/api/agent/conversations/{conversation_id}", headers=liuyang).json()["customer"]
    assert card["abuse"]["note"] == "多次辱骂" and card["abuse"]["flagged_by"] == "agent.liuyang"

    ops = console.headers("ops")
    assert (
        console.client.post(
            f"/api/agent/customers/{customer_id}/tier", json={"tier": "platinum", "reason": " "}, headers=ops
        ).status_code
        == 422
    )
    override = console.client.post(
        f"/api/agent/customers/{customer_id}/tier", json={"tier": "platinum", "reason": "集团战略客户"}, headers=ops
    )
    assert override.status_code == 204
    with console.factory() as session:
        change = session.scalars(
            select(TierChange).where(TierChange.customer_id == customer_id).order_by(TierChange.id.desc())
        ).first()
        assert change is not None and (change.kind, change.new_tier, change.changed_by) == (
            "override",
            "platinum",
            "ops",
        )
    supervisor = console.client.get("/api/agent/supervisor", headers=console.headers("supervisor")).json()
    assert any(agent["username"] == "agent.liuyang" and agent["load"] == 1 for agent in supervisor["agents"])
    assert supervisor["sla_breaches_today"] >= 0


def test_the_customer_hears_the_agent_on_the_websocket_and_ownership_follows_the_handoff(console: Console) -> None:
    """Queue → claim → reply → close: the owner moves bot → queue → agent → bot (recorded), and the customer's
    web chat socket receives the greeting, the reply and the closing line pushed by the hub."""
    conversation_id = console.escalate("demo-platinum", Signal("complaint", "high"), Counters(), "hotel", waited=10)
    with console.factory() as session:
        assert session.get(Conversation, conversation_id).owner == "queue"  # type: ignore[union-attr]
    token = sign_web_user_id("demo-platinum", console.client.app.state.settings.widget_secret)  # type: ignore[attr-defined]
    chenjing = console.headers("agent.chenjing")
    with console.client.websocket_connect("/api/widget/ws") as socket:
        socket.send_text(
            json.dumps({"type": "hello", "user_id": "browser-p", "identity_token": token, "last_id": 10**9})
        )
        assert socket.receive_json() == {
            "type": "hello",
            "conversation_id": conversation_id,
            "identity": "customer",
            "identity_problem": None,
        }

        assert (
            console.client.post(f"/api/agent/conversations/{conversation_id}/claim", headers=chenjing).status_code
            == 200
        )
        greeting = socket.receive_json()
        assert greeting["type"] == "message" and greeting["message"]["sender"] == "system"
        assert "陈静" in greeting["message"]["text"]

        sent = console.client.post(
            f"/api/agent/conversations/{conversation_id}/messages",
            json={"text": "您好，我来帮您处理"},
            headers=chenjing,
        )
        assert sent.status_code == 200
        pushed = socket.receive_json()["message"]
        assert (pushed["id"], pushed["sender"], pushed["agent_name"]) == (sent.json()["id"], "agent", "陈静")

        closed = console.client.post(
            f"/api/agent/conversations/{conversation_id}/close",
            json={"summary": "已安排换房", "outcome": "resolved"},
            headers=chenjing,
        )
        assert closed.status_code == 200
        farewell = socket.receive_json()
        while farewell["type"] != "message":  # an owner-change notice may come first
            farewell = socket.receive_json()
        assert farewell["message"]["sender"] == "system" and "小悦" in farewell["message"]["text"]

    with console.factory() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and (conversation.owner, conversation.assigned_agent_id) == ("bot", None)
        history = conversation_ownership.owner_history(session, conversation_id=conversation_id)
        assert [(change.from_owner, change.to_owner) for change in history] == [
            ("bot", "queue"),
            ("queue", "agent"),
            ("agent", "bot"),
        ]


def _widget_post(console: Console, token: str, text: str, payload: str | None = None) -> list[dict[str, object]]:
    body = {"user_id": "browser-p", "identity_token": token, "text": text}
    if payload is not None:
        body["payload"] = payload
    response = console.client.post("/api/widget/messages", json=body)
    assert response.status_code == 200, response.text
    return response.json()["replies"]  # type: ignore[no-any-return]


def test_after_the_close_the_customer_is_asked_for_a_rating_and_the_hub_stores_it(console: Console) -> None:
    """Close → the rating question with 1–5 buttons → the customer's answer is stored with the agent and the
    escalation (without Rasa); a low one opens a supervisor task; the next message goes to the bot again."""
    conversation_id = console.escalate("demo-platinum", Signal("complaint", "high"), Counters(), "hotel", waited=10)
    token = sign_web_user_id("demo-platinum", console.client.app.state.settings.widget_secret)  # type: ignore[attr-defined]
    chenjing = console.headers("agent.chenjing")
    assert console.client.post(f"/api/agent/conversations/{conversation_id}/claim", headers=chenjing).status_code == 200
    closed = console.client.post(
        f"/api/agent/conversations/{conversation_id}/close",
        json={"summary": "已安排换房", "outcome": "resolved"},
        headers=chenjing,
    )
    assert closed.status_code == 200
    with console.factory() as session:
        last = session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id.desc())
        ).first()
        assert last is not None and last.sender == "system" and "1-5" in last.text
        assert last.payload is not None
        assert [button["payload"] for button in last.payload["buttons"]] == [f"/csat_{n}" for n in (5, 4, 3, 2, 1)]

    thanks = _widget_post(console, token, "2分 等太久了")
    assert [reply["sender"] for reply in thanks] == ["system"] and "主管" in str(thanks[0]["text"])
    rating = console.client.get(f"/api/agent/conversations/{conversation_id}", headers=chenjing).json()["csat"]
    assert (rating["score"], rating["comment"]) == (2, "等太久了")
    with console.factory() as session:
        agent_id = session.scalar(select(Agent.id).where(Agent.username == "agent.chenjing"))
        assert rating["agent_id"] == agent_id and rating["escalation_id"] == closed.json()["id"]
        assert rating["follow_up_task_id"] is not None  # ≤ 2: a supervisor follows up

    # Pressing a rating button again later is thanked for; the first rating stays.
    again = _widget_post(console, token, "5分 非常满意", payload="/csat_5")
    assert [reply["sender"] for reply in again] == ["system"] and "感谢" in str(again[0]["text"])
    with console.factory() as session:
        ratings = session.scalars(select(CsatResponse).where(CsatResponse.conversation_id == conversation_id)).all()
        assert [rating.score for rating in ratings] == [2]

    # The next message is the bot's again (Rasa is not running here: the hub's honest "busy" line answers).
    after = _widget_post(console, token, "3")
    assert [reply["sender"] for reply in after] == ["system"] and "繁忙" in str(after[0]["text"])
    with console.factory() as session:
        assert session.get(Conversation, conversation_id).owner == "bot"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "payload", "expected"),
    [
        ("5分 非常满意", "/csat_5", (5, None)),
        ("5", None, (5, None)),
        ("４", None, (4, None)),
        ("五星", None, (5, None)),
        ("很满意，李娜很专业", None, (5, "李娜很专业")),
        ("非常不满意", None, (1, None)),
        ("3 还可以", None, (3, "还可以")),
        ("3楼在哪里", None, None),
        ("营业时间是几点", None, None),
        ("DD202611200017", None, None),
    ],
)
def test_ratings_are_read_from_buttons_digits_and_words(
    text: str, payload: str | None, expected: tuple[int, str | None] | None
) -> None:
    rating = csat_step.read_rating(text, payload)
    assert (None if rating is None else (rating.score, rating.comment)) == expected


def test_leaving_a_message_while_waiting_turns_the_wait_into_a_call_back(console: Console) -> None:
    """The "不等了，留言" button under the queue message works while the bot is silent (the queue owns it)."""
    conversation_id = console.escalate("demo-gold", REQUEST, Counters(explicit_requests=1), None, waited=5)
    token = sign_web_user_id("demo-gold", console.client.app.state.settings.widget_secret)  # type: ignore[attr-defined]
    body = {"user_id": "browser-g", "identity_token": token, "text": "不等了，留言", "payload": "/leave_message"}
    replies = console.client.post("/api/widget/messages", json=body).json()["replies"]
    assert [reply["sender"] for reply in replies] == ["system"] and "回电" in replies[0]["text"]
    with console.factory() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None and conversation.owner == "bot"
        escalation = queue.latest_escalation(session, conversation_id=conversation_id)
        assert escalation is not None and (escalation.status, escalation.outcome) == ("closed", "callback")
        assert escalation.callback_at is not None
