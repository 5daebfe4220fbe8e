"""The agent console's pages, live feed and the routes added for them: pages served without inline code,
the staff websocket (auth in the first frame, console and conversation events), my conversations, transfer
targets, canned replies (policy data), what the bot collected, queue-position notices to waiting customers,
transfers told to the customer, SLA breaches recorded without anyone opening the console."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from starlette.websockets import WebSocketDisconnect

from api.main import create_app
from core.settings import Settings
from crm.models import Escalation, Message, StaffAccount
from crm.policy import PolicyError
from crm.services import queue_updates
from crm.services.canned_replies import load_canned_replies
from crm.services.escalation_rules import Counters, Signal
from tests.api.test_agent import Console

REQUEST = Signal("explicit_request")
TRACKER_SLOTS = {
    "customer_name": "林浩然",
    "complaint_description": "房间空调坏了",
    "order_id": None,
    "requested_slot": "complaint_category",
    "handoff_requests": 1.0,
}


def fake_rasa(request: httpx.Request) -> httpx.Response:
    if request.method == "GET" and re.fullmatch(r"/conversations/[^/]+/tracker", request.url.path):
        assert request.headers["Authorization"].startswith("Bearer ")
        return httpx.Response(200, json={"sender_id": "x", "slots": TRACKER_SLOTS, "events": None})
    return httpx.Response(200, json=[{"recipient_id": "x", "text": "您好"}])


@pytest.fixture
def console(seeded_sessionmaker: sessionmaker[Session]) -> Iterator[Console]:
    settings = Settings(jwt_secret="x" * 40)
    with TestClient(create_app(seeded_sessionmaker, settings, httpx.MockTransport(fake_rasa))) as client:
        yield Console(client, seeded_sessionmaker)


def token_of(console: Console, username: str) -> str:
    return console.headers(username)["Authorization"].removeprefix("Bearer ")


def system_texts(console: Console, conversation_id: int) -> list[Message]:
    with console.factory() as session:
        return list(
            session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.sender == "system")
                .order_by(Message.id)
            )
        )


# -- pages --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "script"),
    [("/console/login", "login.js"), ("/console", "agent.js"), ("/console/supervisor", "supervisor.js")],
)
def test_console_pages_are_served_in_chinese_with_external_scripts_only(
    console: Console, path: str, script: str
) -> None:
    response = console.client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'lang="zh-CN"' in page and "悦享生活" in page
    assert f'<script type="module" src="/static/console/{script}"></script>' in page
    # The CSP allows no inline script or style: every script has a src, no style attributes.
    assert len(re.findall(r"<script\b", page)) == len(re.findall(r"<script\b[^>]*\bsrc=", page))
    assert "style=" not in page
    assert console.client.get(f"/static/console/{script}").status_code == 200


def test_console_scripts_never_render_as_html() -> None:
    folder = Path(__file__).resolve().parents[2] / "api" / "static" / "console"
    for script in folder.glob("*.js"):
        source = script.read_text(encoding="utf-8")
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", source), script.name


# -- the staff websocket ------------------------------------------------------------------------------------


def test_the_feed_needs_an_auth_frame_with_a_staff_token(console: Console) -> None:
    with console.client.websocket_connect("/api/agent/ws") as socket:
        socket.send_text(json.dumps({"type": "hello"}))
        frame = socket.receive_json()
        assert (frame["type"], frame["code"]) == ("error", "not_authenticated")
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == 4401
    with console.client.websocket_connect("/api/agent/ws") as socket:
        socket.send_text(json.dumps({"type": "auth", "token": "not.a.jwt"}))
        assert socket.receive_json()["code"] == "invalid_token"
    with console.client.websocket_connect("/api/agent/ws") as socket:
        socket.send_text(json.dumps({"type": "auth", "token": token_of(console, "ops")}))
        assert socket.receive_json()["code"] == "forbidden"
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == 4403


def test_the_feed_reports_queue_changes_and_the_watched_conversation(console: Console) -> None:
    chenjing = console.headers("agent.chenjing")
    with console.client.websocket_connect("/api/agent/ws") as socket:
        socket.send_text(json.dumps({"type": "auth", "token": token_of(console, "agent.lina")}))
        assert socket.receive_json() == {"type": "ready", "username": "agent.lina", "role": "agent"}
        conversation_id = console.escalate("demo-platinum", Signal("complaint", "high"), Counters(), "hotel", 5)
        socket.send_text(json.dumps({"type": "watch", "conversation_id": conversation_id}))
        assert socket.receive_json() == {"type": "watching", "conversation_id": conversation_id}

        assert console.client.post(f"/api/agent/conversations/{conversation_id}/claim", headers=chenjing).status_code
        frames = [socket.receive_json() for _ in range(4)]  # owner change and greeting, on both topics
        assert {(frame["topic"], frame["event"]) for frame in frames} == {
            ("console", "owner"),
            ("conversation", "owner"),
            ("console", "messages"),
            ("conversation", "messages"),
        }
        assert all(frame["conversation_id"] == conversation_id for frame in frames)
        sent = console.client.post(
            f"/api/agent/conversations/{conversation_id}/messages", json={"text": "您好"}, headers=chenjing
        ).json()
        frames = [socket.receive_json() for _ in range(2)]
        assert {frame["topic"] for frame in frames} == {"console", "conversation"}
        assert all(sent["id"] in frame["message_ids"] for frame in frames)

        socket.send_text(json.dumps({"type": "watch", "conversation_id": None}))
        assert socket.receive_json() == {"type": "watching", "conversation_id": None}
        console.client.post(
            f"/api/agent/conversations/{conversation_id}/messages", json={"text": "在吗"}, headers=chenjing
        )
        assert socket.receive_json()["topic"] == "console"  # no longer watched: the console topic only
        socket.send_text(json.dumps({"type": "ping"}))
        assert socket.receive_json() == {"type": "pong"}


# -- routes for the pages -----------------------------------------------------------------------------------


def test_me_my_conversations_and_transfer_targets(console: Console) -> None:
    chenjing = console.headers("agent.chenjing")
    me = console.client.get("/api/agent/me", headers=chenjing).json()
    assert (me["username"], me["role"], me["display_name"]) == ("agent.chenjing", "agent", "陈静")
    assert console.client.get("/api/agent/mine", headers=chenjing).json() == {"items": []}
    conversation_id = console.escalate("demo-gold", REQUEST, Counters(explicit_requests=1), "hotel", waited=20)
    console.client.post(f"/api/agent/conversations/{conversation_id}/claim", headers=chenjing)
    mine = console.client.get("/api/agent/mine", headers=chenjing).json()["items"]
    assert [(item["conversation_id"], item["tier"]) for item in mine] == [(conversation_id, "gold")]
    assert mine[0]["waiting_seconds"] >= 20
    assert console.client.get("/api/agent/mine", headers=console.headers("supervisor")).json() == {"items": []}

    targets = console.client.get("/api/agent/agents", headers=chenjing).json()
    loads = {agent["username"]: agent["load"] for agent in targets["agents"]}
    assert loads["agent.chenjing"] == 1 and "agent.zhaolei" not in loads  # inactive agents are no target
    assert targets["groups"] == ["vip"]
    assert console.client.get("/api/agent/agents", headers=console.headers("ops")).status_code == 403


def test_canned_replies_come_from_the_policy_file_per_business(console: Console) -> None:
    lina = console.headers("agent.lina")
    hotel = console.client.get("/api/agent/canned-replies?business=hotel", headers=lina).json()
    common = console.client.get("/api/agent/canned-replies", headers=lina).json()
    rules = load_canned_replies()
    assert [reply["text"] for reply in common["replies"]] == [reply.text for reply in rules.common]
    assert [reply["text"] for reply in hotel["replies"]] == [
        r.text for r in (*rules.businesses["hotel"], *rules.common)
    ]
    assert len(hotel["replies"]) > len(common["replies"])
    assert console.client.get("/api/agent/canned-replies").status_code == 401


def test_a_bad_canned_replies_file_is_refused_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "canned_replies.yml").write_text("common:\n  - {title: 问候}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"canned_replies.yml:2"):
        load_canned_replies.__wrapped__(tmp_path)


def test_what_the_bot_collected_comes_from_the_rasa_tracker_without_bookkeeping(console: Console) -> None:
    conversation_id = console.escalate("demo-platinum", Signal("complaint", "high"), Counters(), "hotel", 5)
    lina = console.headers("agent.lina")
    collected = console.client.get(f"/api/agent/conversations/{conversation_id}/collected", headers=lina)
    assert collected.status_code == 200
    assert collected.json() == {"slots": {"customer_name": "林浩然", "complaint_description": "房间空调坏了"}}
    assert console.client.get("/api/agent/conversations/999999/collected", headers=lina).status_code == 404


# -- what waiting customers are told ------------------------------------------------------------------------


def test_waiting_customers_are_told_their_new_position_only_when_it_changes(console: Console) -> None:
    chenjing = console.headers("agent.chenjing")
    first = console.escalate("demo-gold", REQUEST, Counters(explicit_requests=1), "hotel", waited=60)
    second = console.escalate("demo-iron", REQUEST, Counters(explicit_requests=1), "car_care", waited=30)
    # The bot's queued reply told the second customer "position 2" (stamped as the notices' baseline).
    with console.factory.begin() as session:
        stamped = queue_updates.stamp_position(session, conversation_id=second, payload={"buttons": []})
        assert stamped == {"buttons": [], "queue_position": 2}
        told = Message(conversation_id=second, direction="out", sender="bot", text="排队中", payload=stamped)
        session.add(told)
        first_told = queue_updates.stamp_position(session, conversation_id=first, payload=None)
        session.add(Message(conversation_id=first, direction="out", sender="bot", text="排队中", payload=first_told))
    before = len(system_texts(console, second))

    assert console.client.post(f"/api/agent/conversations/{first}/claim", headers=chenjing).status_code == 200
    notices = system_texts(console, second)[before:]
    assert len(notices) == 1
    assert notices[0].payload is not None and notices[0].payload["queue_position"] == 1
    assert {"title": "不等了，留言", "payload": "/leave_message"} in notices[0].payload["buttons"]
    assert "下一位" in notices[0].text

    # Nothing moved: a repeated claim and a reply tell the waiting customer nothing new.
    console.client.post(f"/api/agent/conversations/{first}/claim", headers=chenjing)
    console.client.post(f"/api/agent/conversations/{first}/messages", json={"text": "您好"}, headers=chenjing)
    assert len(system_texts(console, second)[before:]) == 1


def test_a_transfer_tells_the_customer_who_serves_now(console: Console) -> None:
    chenjing = console.headers("agent.chenjing")
    conversation_id = console.escalate("demo-gold", REQUEST, Counters(explicit_requests=1), "hotel", waited=5)
    console.client.post(f"/api/agent/conversations/{conversation_id}/claim", headers=chenjing)
    targets = console.client.get("/api/agent/agents", headers=chenjing).json()["agents"]
    to = next(agent["agent_id"] for agent in targets if agent["username"] == "agent.zhoumin")
    moved = console.client.post(
        f"/api/agent/conversations/{conversation_id}/transfer", json={"agent_id": to}, headers=chenjing
    )
    assert moved.status_code == 200 and moved.json()["agent_id"] == to
    assert "周敏" in system_texts(console, conversation_id)[-1].text
    again = len(system_texts(console, conversation_id))
    zhoumin_headers = console.headers("agent.zhoumin")
    console.client.post(
        f"/api/agent/conversations/{conversation_id}/transfer", json={"agent_id": to}, headers=zhoumin_headers
    )
    assert len(system_texts(console, conversation_id)) == again  # the same agent again: nothing to tell
    requeued = console.client.post(
        f"/api/agent/conversations/{conversation_id}/transfer", json={"group": "vip"}, headers=zhoumin_headers
    )
    assert requeued.status_code == 200 and requeued.json()["status"] == "queued"
    told = system_texts(console, conversation_id)
    assert "排队" in told[-2].text  # back in the queue ...
    assert told[-1].payload is not None and told[-1].payload["queue_position"] == 1  # ... and where it stands


# -- SLA breaches are counted even if nobody looks ----------------------------------------------------------


def test_an_overdue_first_response_is_recorded_by_the_hub_sweep_and_by_queue_reads(console: Console) -> None:
    overdue = console.escalate("demo-platinum", Signal("complaint", "high"), Counters(), "hotel", waited=120)
    with console.factory() as session:
        assert (
            session.scalars(select(Escalation.sla_breached_at).where(Escalation.conversation_id == overdue)).one()
            is None
        )
    hub = console.client.app.state.hub  # type: ignore[attr-defined]
    console.client.portal.call(lambda: hub.sweep(close_idle=False))  # type: ignore[union-attr]
    with console.factory() as session:
        escalation = session.scalars(select(Escalation).where(Escalation.conversation_id == overdue)).one()
        assert escalation.sla_breached_at == escalation.sla_due_at

    later = console.escalate("demo-gold", REQUEST, Counters(explicit_requests=1), "hotel", waited=600)
    items = console.client.get("/api/agent/queue", headers=console.headers("agent.lina")).json()["items"]
    assert next(item for item in items if item["conversation_id"] == later)["sla_breached"]
    with console.factory() as session:
        escalation = session.scalars(select(Escalation).where(Escalation.conversation_id == later)).one()
        assert escalation.sla_breached_at is not None
    overview = console.client.get("/api/agent/supervisor", headers=console.headers("supervisor")).json()
    assert overview["sla_breaches_today"] >= 2


def test_the_feed_hears_a_claim_made_on_another_api_process_through_redis(
    seeded_sessionmaker: sessionmaker[Session], redis_url: str
) -> None:
    """Two API apps on one CRM and one Redis: the console connected to the first hears the claim, the greeting
    and the reply handled by the second."""
    settings = Settings(jwt_secret="x" * 40, redis_url=redis_url)
    transport = httpx.MockTransport(fake_rasa)
    with (
        TestClient(create_app(seeded_sessionmaker, settings, transport)) as first,
        TestClient(create_app(seeded_sessionmaker, settings, transport)) as second,
    ):
        watcher, worker = Console(first, seeded_sessionmaker), Console(second, seeded_sessionmaker)
        conversation_id = worker.escalate("demo-platinum", Signal("complaint", "high"), Counters(), "hotel", 5)
        chenjing = worker.headers("agent.chenjing")
        with first.websocket_connect("/api/agent/ws") as socket:
            socket.send_text(json.dumps({"type": "auth", "token": token_of(watcher, "supervisor")}))
            assert socket.receive_json()["type"] == "ready"
            assert second.post(f"/api/agent/conversations/{conversation_id}/claim", headers=chenjing).status_code == 200
            sent = second.post(
                f"/api/agent/conversations/{conversation_id}/messages", json={"text": "您好"}, headers=chenjing
            ).json()
            seen: list[int] = []
            while sent["id"] not in seen:
                frame = socket.receive_json()
                assert (frame["topic"], frame["conversation_id"]) == ("console", conversation_id)
                seen += frame["message_ids"]


def test_a_ping_rechecks_the_login_and_a_disabled_account_loses_the_feed(console: Console) -> None:
    token = token_of(console, "agent.wangqiang")
    with console.client.websocket_connect("/api/agent/ws") as socket:
        socket.send_text(json.dumps({"type": "auth", "token": token}))
        assert socket.receive_json()["type"] == "ready"
        socket.send_text(json.dumps({"type": "ping"}))
        assert socket.receive_json() == {"type": "pong"}
        with console.factory.begin() as session:
            session.execute(update(StaffAccount).where(StaffAccount.username == "agent.wangqiang").values(active=False))
        socket.send_text(json.dumps({"type": "ping"}))
        assert socket.receive_json()["code"] == "account_disabled"
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
        assert closed.value.code == 4401


def test_a_new_escalation_ahead_moves_the_waiting_customer_back_and_they_are_told(console: Console) -> None:
    iron = console.escalate("demo-iron", REQUEST, Counters(explicit_requests=1), "car_care", waited=30)
    with console.factory.begin() as session:
        told = queue_updates.stamp_position(session, conversation_id=iron, payload=None)
        session.add(Message(conversation_id=iron, direction="out", sender="bot", text="排队中", payload=told))
        assert queue_updates.pending_updates(session) == []  # told position 1, still 1
    console.escalate("demo-platinum", Signal("complaint", "high"), Counters(), "hotel", waited=1)
    with console.factory() as session:
        [update_] = [u for u in queue_updates.pending_updates(session) if u.conversation_id == iron]
    assert (update_.previous_position, update_.position, update_.ahead) == (1, 2, 1)

    hub = console.client.app.state.hub  # type: ignore[attr-defined]
    console.client.portal.call(hub.notify_queue)  # type: ignore[union-attr]
    notice = system_texts(console, iron)[-1]
    assert notice.payload is not None and notice.payload["queue_position"] == 2
    assert "前面还有1位" in notice.text
    with console.factory() as session:
        assert iron not in [u.conversation_id for u in queue_updates.pending_updates(session)]  # told once
