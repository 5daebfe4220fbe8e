"""The REST channel for integrations: API keys, send, history, long poll, and the signed webhook on the hub's
push delivery (a real local HTTP receiver; a failed POST is retried and the message is acknowledged once)."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.channels.rest import webhook_signature
from api.main import create_app
from core.settings import RestIntegration, Settings
from crm.models import Conversation, Message
from tests.api.conftest import SECRET
from tests.api.test_widget_channel import FakeRasa, agent_says
from tests.production import production_settings_values

SHOP_KEY = "shop-key-0123456789abcdefghijklmnop"
CRM_KEY = "crm-key-0123456789abcdefghijklmnopq"
WEBHOOK_SECRET = "webhook-secret-0123456789abcdefghij"


@dataclass
class Receiver:
    """A local webhook receiver: answers `fail_first` requests with 500, then 200; records every request."""

    fail_first: int = 0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def acknowledged(self) -> list[dict]:
        return [json.loads(body) for _, body in self.requests[self.fail_first :]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(500 if len(state.requests) <= state.fail_first else 200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/cs"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
def client(seeded_sessionmaker: sessionmaker[Session], fake_rasa: FakeRasa, receiver: Receiver) -> Iterator[TestClient]:
    integrations = [
        RestIntegration(name="shop", api_key=SHOP_KEY),
        RestIntegration(name="crm", api_key=CRM_KEY, webhook_url=receiver.url, webhook_secret=WEBHOOK_SECRET),
    ]
    settings = Settings(widget_secret=SECRET, rasa_url="http://rasa.internal:5005", rest_integrations=integrations)
    with TestClient(create_app(seeded_sessionmaker, settings, httpx.MockTransport(fake_rasa.handle))) as test_client:
        yield test_client


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def say(client: TestClient, key: str, text: str, user_id: str = "u-1", **extra: object) -> httpx.Response:
    return client.post("/api/rest/messages", json={"user_id": user_id, "text": text, **extra}, headers=auth(key))


def wait_until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def delivery_state(factory: sessionmaker[Session], message_id: int) -> tuple[str | None, int]:
    with factory() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message.delivery_state, message.delivery_attempts


# --- keys ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, auth("wrong-key"), {"Authorization": f"Basic {SHOP_KEY}"}])
def test_without_a_valid_api_key_nothing_is_stored(
    client: TestClient, fake_rasa: FakeRasa, seeded_sessionmaker: sessionmaker[Session], headers: dict[str, str]
) -> None:
    response = client.post("/api/rest/messages", json={"user_id": "u-1", "text": "你好"}, headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "invalid_api_key"
    assert fake_rasa.requests == []
    with seeded_sessionmaker() as session:
        assert session.scalars(select(Conversation).where(Conversation.channel == "rest")).all() == []


@pytest.mark.parametrize("key", ["changethis", "short-key", "development-only-rest-api-key-never-in-production"])
def test_weak_api_keys_are_refused_outside_development(key: str) -> None:
    with pytest.raises(ValueError, match=r"REST_INTEGRATIONS shop\.api_key"):
        Settings(**production_settings_values(rest_integrations=[{"name": "shop", "api_key": key}]))


def test_production_has_no_integration_unless_configured() -> None:
    assert Settings(**production_settings_values()).rest_integrations == []
    assert [i.name for i in Settings(app_env="development").rest_integrations or []] == ["demo"]


# --- send, history, long poll ----------------------------------------------------------------------------------------


def test_send_and_history_are_per_integration(client: TestClient, fake_rasa: FakeRasa) -> None:
    sent = say(client, SHOP_KEY, "你好", client_message_id="m-1")
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert [r["text"] for r in body["replies"]] == ["您好，我是小悦"]
    assert fake_rasa.requests[0]["metadata"]["channel"] == "rest"
    retry = say(client, SHOP_KEY, "你好", client_message_id="m-1").json()
    assert retry["duplicate"] is True and retry["message_id"] == body["message_id"] and len(fake_rasa.requests) == 1

    history = client.get("/api/rest/conversations/u-1/messages", headers=auth(SHOP_KEY)).json()
    assert history["conversation_id"] == body["conversation_id"]
    assert [(m["direction"], m["sender"], m["text"]) for m in history["messages"]] == [
        ("in", "customer", "你好"),
        ("out", "bot", "您好，我是小悦"),
    ]
    after = client.get(
        "/api/rest/conversations/u-1/messages", params={"after_id": body["message_id"]}, headers=auth(SHOP_KEY)
    ).json()
    assert [m["text"] for m in after["messages"]] == ["您好，我是小悦"]
    # Another integration's user u-1 is someone else.
    other = client.get("/api/rest/conversations/u-1/messages", headers=auth(CRM_KEY)).json()
    assert other == {"conversation_id": None, "messages": []}


def test_an_empty_or_too_long_message_is_refused(client: TestClient) -> None:
    assert say(client, SHOP_KEY, "   ").status_code == 422
    assert say(client, SHOP_KEY, "好" * 2001).json()["detail"]["code"] == "message_too_long"


def test_long_poll_returns_an_agent_message_as_soon_as_it_is_said(client: TestClient) -> None:
    body = say(client, SHOP_KEY, "你好").json()
    last = body["replies"][-1]["id"]
    started = time.monotonic()
    empty = client.get(
        "/api/rest/conversations/u-1/poll", params={"after_id": last, "timeout": 0.5}, headers=auth(SHOP_KEY)
    ).json()
    assert empty["messages"] == [] and time.monotonic() - started >= 0.5

    timer = threading.Timer(0.4, agent_says, args=(client, body["conversation_id"], "您好，我是客服李娜"))
    timer.start()
    started = time.monotonic()
    polled = client.get(
        "/api/rest/conversations/u-1/poll", params={"after_id": last, "timeout": 10}, headers=auth(SHOP_KEY)
    ).json()
    timer.join()
    assert time.monotonic() - started < 5  # woken by the event, not by the timeout
    assert [(m["sender"], m["agent_name"], m["text"]) for m in polled["messages"]] == [
        ("agent", "李娜", "您好，我是客服李娜")
    ]


# --- webhook -------------------------------------------------------------------------------------------------------


def test_replies_reach_the_webhook_signed_and_once(
    client: TestClient, receiver: Receiver, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    body = say(client, CRM_KEY, "你好", user_id="c-9").json()
    reply_id = body["replies"][0]["id"]
    wait_until(lambda: len(receiver.requests) == 1)
    headers, raw = receiver.requests[0]
    assert headers["x-cs-signature"] == webhook_signature(WEBHOOK_SECRET, headers["x-cs-timestamp"], raw)
    expected = hmac.new(WEBHOOK_SECRET.encode(), headers["x-cs-timestamp"].encode() + b"." + raw, hashlib.sha256)
    assert headers["x-cs-signature"] == "sha256=" + expected.hexdigest()  # what a receiver computes
    assert headers["x-cs-delivery"] == str(reply_id)
    delivered = json.loads(raw)
    assert delivered["integration"] == "crm" and delivered["user_id"] == "c-9"
    assert delivered["conversation_id"] == body["conversation_id"]
    assert (delivered["message"]["id"], delivered["message"]["text"]) == (reply_id, "您好，我是小悦")
    wait_until(lambda: delivery_state(seeded_sessionmaker, reply_id)[0] == "delivered")

    # An agent's message goes out the same way.
    agent_says(client, body["conversation_id"], "我是李娜")
    wait_until(lambda: len(receiver.requests) == 2)
    assert json.loads(receiver.requests[1][1])["message"]["sender"] == "agent"
    # Nothing is sent twice however often the sweeper runs.
    assert client.portal is not None
    client.portal.call(client.app.state.hub.sweep)  # type: ignore[attr-defined]
    time.sleep(0.2)
    assert len(receiver.requests) == 2


def test_a_failed_webhook_is_retried_and_acknowledged_exactly_once(
    client: TestClient, receiver: Receiver, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    receiver.fail_first = 1
    body = say(client, CRM_KEY, "你好", user_id="c-10").json()
    reply_id = body["replies"][0]["id"]
    wait_until(lambda: delivery_state(seeded_sessionmaker, reply_id) == ("pending", 1))
    assert len(receiver.requests) == 1

    time.sleep(2.1)  # the push policy's first back-off
    assert client.portal is not None
    client.portal.call(client.app.state.hub.sweep)  # type: ignore[attr-defined]
    wait_until(lambda: delivery_state(seeded_sessionmaker, reply_id)[0] == "delivered")
    client.portal.call(client.app.state.hub.sweep)  # type: ignore[attr-defined]
    assert [m["message"]["id"] for m in receiver.acknowledged()] == [reply_id]
    assert [h["x-cs-delivery"] for h, _ in receiver.requests] == [str(reply_id)] * 2  # same delivery id on retry


def test_the_rest_api_is_documented(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in (
        "/api/rest/messages",
        "/api/rest/conversations/{user_id}/messages",
        "/api/rest/conversations/{user_id}/poll",
    ):
        assert path in schema["paths"], path
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_a_long_poll_is_woken_by_another_api_process_through_redis(
    seeded_sessionmaker: sessionmaker[Session], fake_rasa: FakeRasa, redis_url: str
) -> None:
    settings = Settings(
        widget_secret=SECRET,
        rasa_url="http://rasa.internal:5005",
        redis_url=redis_url,
        rest_integrations=[RestIntegration(name="shop", api_key=SHOP_KEY)],
    )
    transport = httpx.MockTransport(fake_rasa.handle)
    with (
        TestClient(create_app(seeded_sessionmaker, settings, transport)) as first,
        TestClient(create_app(seeded_sessionmaker, settings, transport)) as second,
    ):
        body = say(first, SHOP_KEY, "你好").json()
        last = body["replies"][-1]["id"]
        timer = threading.Timer(0.5, agent_says, args=(second, body["conversation_id"], "另一个进程的客服消息"))
        timer.start()
        started = time.monotonic()
        polled = first.get(
            "/api/rest/conversations/u-1/poll", params={"after_id": last, "timeout": 10}, headers=auth(SHOP_KEY)
        ).json()
        timer.join()
    assert [m["text"] for m in polled["messages"]] == ["另一个进程的客服消息"]
    assert time.monotonic() - started < 5
