"""The widget channel and hub in-process, with Rasa replaced at the HTTP edge by a scripted transport."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.channels.identity import sign_web_user_id
from api.main import create_app
from core.settings import Settings
from crm.models import Conversation, Customer, Message

SECRET = "test-secret"


@dataclass
class FakeRasa:
    """Answers like Rasa's REST channel; `behaviour` decides each answer."""

    behaviour: Callable[[dict], httpx.Response] = lambda body: httpx.Response(
        200, json=[{"recipient_id": body["sender"], "text": "您好，我是小悦"}]
    )
    requests: list[dict] = field(default_factory=list)
    actions_up: bool = True

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":  # the hub's probe of the action server
            return httpx.Response(200 if self.actions_up else 503, json={"status": "ok"})
        body = json.loads(request.content)
        self.requests.append(body)
        return self.behaviour(body)


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
def client(seeded_sessionmaker: sessionmaker[Session], fake_rasa: FakeRasa) -> Iterator[TestClient]:
    settings = Settings(widget_secret=SECRET, rasa_url="http://rasa.internal:5005", rasa_timeout_seconds=1.0)
    app = create_app(seeded_sessionmaker, settings, httpx.MockTransport(fake_rasa.handle))
    with TestClient(app) as test_client:
        yield test_client


def post(client: TestClient, **body: object) -> httpx.Response:
    return client.post("/api/widget/messages", json={"user_id": "browser-1", **body})


def rows(factory: sessionmaker[Session], conversation_id: int) -> list[Message]:
    with factory() as session:
        return list(
            session.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id))
        )


def test_identified_message_reaches_rasa_with_metadata_and_both_directions_are_stored(
    client: TestClient, fake_rasa: FakeRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    token = sign_web_user_id("demo-gold", SECRET)
    response = post(client, text="你好", identity_token=token, client_message_id="m1")

    assert response.status_code == 200
    body = response.json()
    assert [r["text"] for r in body["replies"]] == ["您好，我是小悦"]
    with seeded_sessionmaker() as session:
        customer = session.scalar(select(Customer).where(Customer.web_user_id == "demo-gold"))
        conversation = session.get(Conversation, body["conversation_id"])
    sent = fake_rasa.requests[0]
    assert sent["sender"] == conversation.rasa_sender_id
    assert sent["message"] == "你好"
    assert sent["metadata"]["customer_id"] == customer.id
    assert sent["metadata"]["tier"] == (customer.tier_override or customer.tier)
    assert sent["metadata"]["channel"] == "web"
    stored = rows(seeded_sessionmaker, body["conversation_id"])
    assert [(m.direction, m.sender, m.text) for m in stored] == [
        ("in", "customer", "你好"),
        ("out", "bot", "您好，我是小悦"),
    ]
    assert stored[1].reply_to_id == stored[0].id


def test_anonymous_visitor_cannot_claim_a_customer_by_user_id(client: TestClient, fake_rasa: FakeRasa) -> None:
    response = client.post("/api/widget/messages", json={"user_id": "demo-gold", "text": "我的订单"})
    assert response.status_code == 200
    assert fake_rasa.requests[0]["metadata"]["customer_id"] is None


def test_forged_identity_token_is_refused_in_chinese(client: TestClient, fake_rasa: FakeRasa) -> None:
    forged = sign_web_user_id("demo-platinum", "not-the-secret")
    response = post(client, text="你好", identity_token=forged)
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "invalid_identity"
    assert "登录" in response.json()["detail"]["message"]
    assert fake_rasa.requests == []


def test_button_payload_goes_to_rasa_and_its_title_to_the_transcript(
    client: TestClient, fake_rasa: FakeRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    fake_rasa.behaviour = lambda body: httpx.Response(
        200,
        json=[{"text": "请问您想了解什么？", "buttons": [{"title": "转人工", "payload": "/request_human"}]}],
    )
    body = post(client, text="转人工", payload="/request_human").json()
    assert fake_rasa.requests[0]["message"] == "/request_human"
    assert body["replies"][0]["buttons"] == [{"title": "转人工", "payload": "/request_human"}]
    stored = rows(seeded_sessionmaker, body["conversation_id"])
    assert stored[0].text == "转人工"
    assert stored[1].payload == {"buttons": [{"title": "转人工", "payload": "/request_human"}]}


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(lambda body: (_ for _ in ()).throw(httpx.ConnectError("refused")), id="rasa-down"),
        pytest.param(lambda body: (_ for _ in ()).throw(httpx.ReadTimeout("slow")), id="rasa-slow"),
        pytest.param(lambda body: httpx.Response(500, text="boom"), id="rasa-error"),
        pytest.param(lambda body: httpx.Response(200, json=[]), id="action-server-down"),
    ],
)
def test_rasa_failure_gets_a_polite_busy_reply_keeps_the_message_and_the_conversation_continues(
    client: TestClient, fake_rasa: FakeRasa, seeded_sessionmaker: sessionmaker[Session], failure: Callable
) -> None:
    healthy = fake_rasa.behaviour
    fake_rasa.behaviour = failure
    during = post(client, text="我想查订单").json()
    assert [r["sender"] for r in during["replies"]] == ["system"]
    assert "系统繁忙" in during["replies"][0]["text"]

    fake_rasa.behaviour = healthy
    after = post(client, text="我想查订单").json()
    assert after["conversation_id"] == during["conversation_id"]
    assert after["replies"][0]["sender"] == "bot"
    stored = rows(seeded_sessionmaker, during["conversation_id"])
    assert [(m.direction, m.sender) for m in stored] == [
        ("in", "customer"),
        ("out", "system"),
        ("in", "customer"),
        ("out", "bot"),
    ]


def test_action_server_down_turns_rasas_generic_fallback_into_a_busy_reply(
    client: TestClient, fake_rasa: FakeRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    fake_rasa.behaviour = lambda body: httpx.Response(200, json=[{"text": "抱歉，小悦暂时没法处理这个请求。"}])
    fake_rasa.actions_up = False
    during = post(client, text="你好").json()
    assert [(r["sender"], "系统繁忙" in r["text"]) for r in during["replies"]] == [("system", True)]

    fake_rasa.actions_up = True
    after = post(client, text="你好").json()
    assert [r["sender"] for r in after["replies"]] == ["bot"]


def test_retry_returns_the_stored_replies_without_asking_rasa_again(
    client: TestClient, fake_rasa: FakeRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    first = post(client, text="你好", client_message_id="retry-1").json()
    second = post(client, text="你好", client_message_id="retry-1").json()
    assert len(fake_rasa.requests) == 1
    assert second["duplicate"] is True
    assert second["replies"] == first["replies"]
    assert len(rows(seeded_sessionmaker, first["conversation_id"])) == 2


def test_conversation_owned_by_an_agent_is_not_sent_to_rasa(
    client: TestClient, fake_rasa: FakeRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    first = post(client, text="转人工").json()
    with seeded_sessionmaker.begin() as session:
        session.execute(update(Conversation).where(Conversation.id == first["conversation_id"]).values(owner="agent"))
    second = post(client, text="你好，有人吗").json()
    assert second["replies"] == []
    assert len(fake_rasa.requests) == 1
    assert rows(seeded_sessionmaker, first["conversation_id"])[-1].text == "你好，有人吗"


def test_history_returns_the_open_conversation(client: TestClient) -> None:
    post(client, text="你好")
    history = client.get("/api/widget/history", params={"user_id": "browser-1"}).json()
    assert [(m["direction"], m["text"]) for m in history["messages"]] == [
        ("in", "你好"),
        ("out", "您好，我是小悦"),
    ]
    empty = client.get("/api/widget/history", params={"user_id": "nobody-yet"}).json()
    assert empty == {"conversation_id": None, "messages": []}


def test_too_long_message_is_refused_in_chinese_and_not_stored(
    client: TestClient, fake_rasa: FakeRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    response = post(client, text="好" * 2001)
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert detail["code"] == "message_too_long" and "2000" in detail["message"]
    assert fake_rasa.requests == []
    with seeded_sessionmaker() as session:
        assert session.scalar(select(Message).where(Message.text == "好" * 2001)) is None


def test_exactly_the_limit_is_accepted(client: TestClient) -> None:
    assert post(client, text="好" * 2000).status_code == 200


def test_empty_message_gets_a_polite_prompt(client: TestClient, fake_rasa: FakeRasa) -> None:
    response = post(client, text=" \n\t ")
    assert response.status_code == 200
    assert "请输入" in response.json()["replies"][0]["text"]
    assert fake_rasa.requests == []


@pytest.mark.parametrize(
    "body",
    [
        {"text": "你好"},  # no user_id
        {"user_id": "bad id with spaces", "text": "你好"},
        {"user_id": "browser-1", "text": "你好", "payload": "not-a-payload"},
        {"user_id": "browser-1", "text": 42},
    ],
)
def test_malformed_requests_get_422_with_a_chinese_message(client: TestClient, body: dict) -> None:
    response = client.post("/api/widget/messages", json=body)
    assert response.status_code == 422
    assert response.json()["detail"]["code"] == "invalid_request"
    assert "格式" in response.json()["detail"]["message"]


def test_oversized_request_body_is_refused_before_parsing(client: TestClient) -> None:
    response = client.post(
        "/api/widget/messages", content=b"x" * (70 * 1024), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["detail"]["code"] == "request_too_large"


def test_dev_identity_is_not_served_outside_development(seeded_sessionmaker: sessionmaker[Session]) -> None:
    settings = Settings(app_env="production", widget_secret="real-secret", jwt_secret="j" * 40)
    with TestClient(create_app(seeded_sessionmaker, settings)) as production:
        assert production.get("/api/widget/dev-identity", params={"web_user_id": "demo-gold"}).status_code == 404


def test_default_secret_is_refused_outside_development() -> None:
    with pytest.raises(ValueError, match="WIDGET_SECRET"):
        Settings(app_env="production", widget_secret="changethis")
