"""The API's input edges, headers, docs exposure, error schema and database faults, in-process.

Rasa is replaced at the HTTP edge by the scripted transport of test_widget_channel (FakeRasa); the CRM
is a real seeded SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.channels.identity import sign_web_user_id, verify_identity_token
from api.main import create_app
from api.security import CONTENT_SECURITY_POLICY, BodySizeLimit, normalise_text
from api.texts import text
from core.logging import install_pii_masking, mask_pii
from core.settings import Settings
from crm.models import Message
from tests.api.conftest import SECRET
from tests.api.test_widget_channel import FakeRasa
from tests.production import production_settings_values

CJK = "\u4e00-\u9fff"


def production_settings(**overrides: object) -> Settings:
    return Settings(**production_settings_values(rasa_url="http://rasa.internal:5005", **overrides))  # type: ignore[arg-type]


class FakeServices(FakeRasa):
    """FakeRasa that also answers the health probes (GET) of /health."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"status": "ok"})
        return super().handle(request)


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeServices()


def message_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    detail = response.json()["detail"]
    assert detail["code"] == code
    assert any("\u4e00" <= char <= "\u9fff" for char in detail["message"]), detail


# --- text normalisation -------------------------------------------------------------------------


def test_a_lone_surrogate_is_replaced_and_the_rest_of_the_message_is_kept(
    client: TestClient, fake_rasa: FakeRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    # Half of 😀 (\ud83d\ude00), as a browser sends when a textarea cuts an emoji in two.
    raw = b'{"user_id": "browser-s", "text": "\\u4f60\\u597d\\ud83d", "client_message_id": "s1"}'
    response = client.post("/api/widget/messages", content=raw, headers={"Content-Type": "application/json"})

    assert response.status_code == 200, response.text
    assert fake_rasa.requests[0]["message"] == "你好\ufffd"
    with seeded_sessionmaker() as session:
        stored = session.scalars(select(Message.text).where(Message.direction == "in")).all()
    assert "你好\ufffd" in stored


def test_a_whole_emoji_sent_as_a_surrogate_pair_is_kept(client: TestClient, fake_rasa: FakeRasa) -> None:
    raw = b'{"user_id": "browser-e", "text": "\\u8c22\\u8c22\\ud83d\\ude00"}'
    response = client.post("/api/widget/messages", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert fake_rasa.requests[0]["message"] == "谢谢😀"


@pytest.mark.parametrize(
    "field", ["identity_token", "client_message_id", "payload"], ids=["token", "message-id", "payload"]
)
def test_surrogates_in_any_text_field_never_give_a_500(client: TestClient, field: str) -> None:
    value = "/x\\ud800" if field == "payload" else "abc\\udfff"
    raw = ('{"user_id": "browser-f", "text": "你好", "' + field + '": "' + value + '"}').encode()
    response = client.post("/api/widget/messages", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code in (200, 401, 422), response.text
    assert "detail" in response.json() or "replies" in response.json()


def test_invalid_utf8_in_the_body_is_a_clear_4xx(
    client: TestClient, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    before = message_count(seeded_sessionmaker)
    raw = b'{"user_id": "browser-u", "text": "\xe4\xbd\xa0\xff\xfe"}'
    response = client.post("/api/widget/messages", content=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "bad_request")
    assert message_count(seeded_sessionmaker) == before


def test_invalid_utf8_in_a_query_string_is_a_clear_4xx_or_ignored(client: TestClient) -> None:
    response = client.get("/api/widget/history?user_id=%ff%fe&identity_token=%c3%28")
    assert response.status_code in (401, 422), response.text
    assert set(response.json()["detail"]) >= {"code", "message"}


def test_normalise_text_composes_and_replaces_only_what_cannot_be_encoded() -> None:
    assert normalise_text("e\u0301") == "\u00e9"
    assert normalise_text("ok\ud800ok") == "ok\ufffdok"
    assert normalise_text("普通文本") == "普通文本"


# --- identity tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "demo-gold." + "é" * 64,
        "demo-gold.签名",
        "demo-gold." + "A" * 64,  # upper-case hex is not what we sign
        "demo-gold.",
        "demo-金.abc",
        ".",
    ],
)
def test_a_malformed_identity_token_leaves_the_visitor_anonymous(
    client: TestClient, fake_rasa: FakeRasa, token: str
) -> None:
    body = {"user_id": "browser-t", "text": "你好", "identity_token": token}
    response = client.post("/api/widget/messages", json=body)
    assert response.status_code == 200, response.text
    assert (response.json()["identity"], response.json()["identity_problem"]) == ("anonymous", "invalid")
    assert fake_rasa.requests[0]["metadata"]["customer_id"] is None
    header = token.encode()  # HTTP headers are bytes: a non-ASCII token arrives as latin-1 text
    history = client.get("/api/widget/history", params={"user_id": "browser-t"}, headers={"X-Identity-Token": header})
    assert history.status_code == 200, history.text
    assert history.json()["identity"] == "anonymous" and len(history.json()["messages"]) == 2


def test_verify_identity_token_accepts_only_the_exact_signature() -> None:
    token = sign_web_user_id("demo-gold", SECRET)
    assert verify_identity_token(token, SECRET) == "demo-gold"
    assert verify_identity_token(token[:-1] + "é", SECRET) is None


# --- body limit ---------------------------------------------------------------------------------


def test_a_chunked_body_over_the_limit_is_refused_without_being_read_in_full() -> None:
    """Straight at the ASGI middleware: 1 KB chunks, no Content-Length, an endless stream."""
    chunks_read = 0
    sent: list[dict] = []

    async def endless_receive() -> dict:
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    async def app(scope: dict, receive: object, send: object) -> None:  # reads the whole body, like a JSON parser
        while True:
            message = await receive()  # type: ignore[operator]
            if not message.get("more_body"):
                break

    middleware = BodySizeLimit(app, max_bytes=64 * 1024)  # type: ignore[arg-type]
    scope = {"type": "http", "method": "POST", "path": "/api/widget/messages", "headers": []}
    asyncio.run(middleware(scope, endless_receive, send))  # type: ignore[arg-type]

    assert chunks_read == 65  # stopped at the first chunk past 64 KB
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["detail"]["code"] == "request_too_large"


def test_a_chunked_body_over_the_limit_through_the_app_is_413(
    client: TestClient, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    before = message_count(seeded_sessionmaker)

    def chunks() -> Iterator[bytes]:
        yield b'{"user_id": "browser-c", "text": "'
        for _ in range(100):
            yield "好".encode() * 1000
        yield b'"}'

    response = client.post("/api/widget/messages", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(response, 413, "request_too_large")
    assert message_count(seeded_sessionmaker) == before


def test_a_declared_content_length_over_the_limit_is_413(client: TestClient) -> None:
    response = client.post(
        "/api/widget/messages",
        content=b"{" + b" " * (70 * 1024) + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 413, "request_too_large")


# --- headers and docs ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/chat", "/health", "/static/chat.js", "/api/widget/history?user_id=b", "/nope"])
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_the_chat_page_loads_only_same_origin_scripts_and_styles(client: TestClient) -> None:
    """The CSP forbids inline script and style: the page must not need them."""
    page = client.get("/chat").text
    assert "<script>" not in page and "<style" not in page and " style=" not in page and " on" + "click=" not in page
    assert '<script src="/static/' in page


def test_docs_are_off_in_production_and_on_with_api_docs(seeded_sessionmaker: sessionmaker[Session]) -> None:
    with TestClient(create_app(seeded_sessionmaker, production_settings())) as production:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert_error(production.get(path), 404, "not_found")
    with TestClient(create_app(seeded_sessionmaker, production_settings(api_docs="1"))) as documented:
        assert documented.get("/openapi.json").status_code == 200
        docs = documented.get("/docs")
        assert docs.status_code == 200
        assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]


# --- one error model ----------------------------------------------------------------------------


def test_every_route_declares_the_error_model_and_errors_match_it(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    error_schema = spec["components"]["schemas"]["ErrorOut"]
    assert error_schema["required"] == ["detail"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status in ("401", "413", "422", "503"):
                if "wechat" in operation.get("tags", []) and status == "413":
                    continue  # WeChat's callback answers in its own plain-text protocol (declared on the route)
                ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorOut"), (method, path, status)

    for response, status in (
        (client.get("/no/such/page"), 404),
        (client.delete("/api/widget/messages"), 405),
        (client.post("/api/widget/messages", json={"user_id": "!!"}), 422),
    ):
        assert response.status_code == status
        detail = response.json()["detail"]
        assert isinstance(detail, dict) and isinstance(detail["code"], str) and isinstance(detail["message"], str)


# --- database faults ----------------------------------------------------------------------------


def test_a_locked_database_gives_the_polite_busy_answer_as_json(
    client: TestClient, seeded_db_url: str, fake_rasa: FakeRasa
) -> None:
    holder = sqlite3.connect(seeded_db_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock past the busy timeout
    try:
        response = client.post("/api/widget/messages", json={"user_id": "browser-l", "text": "你好"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_error(response, 503, "service_busy")
    assert response.json()["detail"]["message"] == text("database_busy")
    assert response.headers["retry-after"] == "5"
    assert fake_rasa.requests == []  # nothing half-done: Rasa was never asked

    again = client.post("/api/widget/messages", json={"user_id": "browser-l", "text": "你好"})
    assert again.status_code == 200


def test_a_read_only_database_gives_the_polite_busy_answer_as_json(
    seeded_read_only_sessionmaker: sessionmaker[Session], fake_rasa: FakeRasa
) -> None:
    settings = Settings(widget_secret=SECRET, rasa_url="http://rasa.internal:5005", rasa_timeout_seconds=1.0)
    app = create_app(seeded_read_only_sessionmaker, settings, httpx.MockTransport(fake_rasa.handle))
    with TestClient(app, raise_server_exceptions=False) as read_only:
        response = read_only.post("/api/widget/messages", json={"user_id": "browser-r", "text": "你好"})
        assert_error(response, 503, "service_busy")
        health = read_only.get("/health")
    assert health.status_code == 503
    assert health.json()["database"] is True
    assert health.json()["database_writable"] is False


# --- logs ---------------------------------------------------------------------------------------


def test_mobiles_names_and_tokens_are_masked_in_log_records(caplog: pytest.LogCaptureFixture) -> None:
    install_pii_masking()
    with caplog.at_level(logging.INFO):
        logging.getLogger("tests.pii").info(
            "lookup %s for %s via %s", "13812345678", '{"name": "张伟"}', "/history?identity_token=demo-gold.abc"
        )
    line = caplog.records[-1].getMessage()
    assert "13812345678" not in line and "138****5678" in line
    assert "张伟" not in line and '"name": "张*"' in line
    assert "demo-gold.abc" not in line
    assert mask_pii("Authorization: Bearer eyJhbGciOi.x.y") == "Authorization: Bearer ***"
    assert mask_pii("订单 DD202611200017") == "订单 DD202611200017"  # order numbers are not mobiles
