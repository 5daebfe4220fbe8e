"""Expiring widget identities (HS256 JWT with `exp`), a visitor who logs in mid-conversation, the widget's CORS and
websocket Origin rules, and the files and pages the embeddable widget is served from."""

from __future__ import annotations

import json
import time

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.websockets import WebSocketDisconnect

from api.channels.identity import check_identity_token, sign_web_user_id
from api.main import create_app
from core.settings import Settings
from crm.models import Conversation, Customer
from tests.api.conftest import SECRET
from tests.api.test_widget_channel import FakeRasa, hello


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


def post(client: TestClient, **body: object) -> httpx.Response:
    return client.post("/api/widget/messages", json={"user_id": "browser-1", "text": "你好", **body})


def customer_id_of(factory: sessionmaker[Session], web_user_id: str) -> int:
    with factory() as session:
        return session.scalars(select(Customer.id).where(Customer.web_user_id == web_user_id)).one()


# --- the token itself ------------------------------------------------------------------------------------------


def test_a_signed_token_names_its_customer_until_it_expires() -> None:
    now = 1_800_000_000
    token = sign_web_user_id("demo-gold", SECRET, lifetime_seconds=600, now=now)
    assert check_identity_token(token, SECRET, now=now + 599).web_user_id == "demo-gold"
    expired = check_identity_token(token, SECRET, now=now + 600 + 31)  # past exp and the 30 s clock leeway
    assert (expired.web_user_id, expired.problem) == (None, "expired")


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        pytest.param(jwt.encode({"sub": "demo-gold"}, SECRET, algorithm="HS256"), "invalid", id="no-exp"),
        pytest.param(
            jwt.encode({"sub": "demo-gold", "exp": int(time.time()) + 60}, "another-secret", algorithm="HS256"),
            "invalid",
            id="other-secret",
        ),
        pytest.param(
            jwt.encode({"sub": "demo-gold", "exp": int(time.time()) + 60}, None, algorithm="none"),
            "invalid",
            id="unsigned",
        ),
        pytest.param(
            jwt.encode({"sub": "demo-gold", "exp": int(time.time()) + 30 * 86400}, SECRET, algorithm="HS256"),
            "invalid",
            id="lifetime-too-long",
        ),
        pytest.param(
            jwt.encode({"sub": "金", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256"), "invalid", id="bad-sub"
        ),
        pytest.param(
            jwt.encode({"sub": "demo-gold", "exp": int(time.time()) - 3600}, SECRET, algorithm="HS256"),
            "expired",
            id="expired",
        ),
        # The old never-expiring `<web_user_id>.<hmac>` form: refused, since a leaked one would be valid forever.
        pytest.param("demo-gold." + "a" * 64, "invalid", id="legacy-hmac"),
    ],
)
def test_tokens_that_do_not_vouch_for_anyone(token: str, problem: str) -> None:
    check = check_identity_token(token, SECRET)
    assert (check.web_user_id, check.problem) == (None, problem)


def test_a_tampered_payload_breaks_the_signature() -> None:
    header, payload, signature = sign_web_user_id("demo-iron", SECRET).split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["sub"] = "demo-platinum"
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    assert check_identity_token(f"{header}.{forged_payload}.{signature}", SECRET).problem == "invalid"


# --- through the API -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["valid", "expired", "tampered", "none"])
def test_only_a_valid_token_makes_the_visitor_the_customer(
    client: TestClient, fake_rasa: FakeRasa, seeded_sessionmaker: sessionmaker[Session], kind: str
) -> None:
    valid = sign_web_user_id("demo-platinum", SECRET)
    tokens = {
        "valid": valid,
        "expired": sign_web_user_id("demo-platinum", SECRET, lifetime_seconds=60, now=time.time() - 3600),
        "tampered": valid[:-2] + ("AA" if not valid.endswith("AA") else "BB"),
        "none": None,
    }
    body = post(client, identity_token=tokens[kind]).json()
    metadata = fake_rasa.requests[0]["metadata"]
    if kind == "valid":
        assert body["identity"] == "customer" and body["identity_problem"] is None
        assert metadata["customer_id"] == customer_id_of(seeded_sessionmaker, "demo-platinum")
        assert metadata["tier"] == "platinum"
    else:
        assert body["identity"] == "anonymous"
        assert body["identity_problem"] == {"expired": "expired", "tampered": "invalid", "none": None}[kind]
        assert metadata["customer_id"] is None and metadata["tier"] is None
        with seeded_sessionmaker() as session:
            conversation = session.get(Conversation, body["conversation_id"])
            assert conversation is not None
            assert conversation.channel_user_id == "anon:browser-1" and conversation.customer_id is None


def test_a_visitor_who_logs_in_mid_conversation_keeps_it(
    client: TestClient, fake_rasa: FakeRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    anonymous = post(client, text="我想预约洗车").json()
    token = sign_web_user_id("demo-gold", SECRET)
    history = client.get("/api/widget/history", params={"user_id": "browser-1"}, headers={"X-Identity-Token": token})
    assert history.json()["identity"] == "customer"
    assert history.json()["conversation_id"] == anonymous["conversation_id"]
    assert [m["text"] for m in history.json()["messages"]] == ["我想预约洗车", "您好，我是小悦"]

    logged_in = post(client, text="明天上午十点", identity_token=token).json()
    assert logged_in["conversation_id"] == anonymous["conversation_id"]
    first, login, second = fake_rasa.requests
    # The same Rasa conversation (the bot keeps what was said), restarted with the customer's profile.
    assert first["sender"] == login["sender"] == second["sender"]
    assert login["message"] == "/session_start"
    gold = customer_id_of(seeded_sessionmaker, "demo-gold")
    assert login["metadata"]["customer_id"] == second["metadata"]["customer_id"] == gold
    assert login["metadata"]["tier"] == "gold"
    with seeded_sessionmaker() as session:
        conversation = session.get(Conversation, anonymous["conversation_id"])
        assert conversation is not None and conversation.channel_user_id == "demo-gold"
    # The anonymous visitor id alone no longer reaches that conversation.
    assert client.get("/api/widget/history", params={"user_id": "browser-1"}).json()["messages"] == []


def test_an_expired_token_on_the_socket_is_the_anonymous_visitor(client: TestClient) -> None:
    post(client, identity_token=sign_web_user_id("demo-gold", SECRET))
    expired = sign_web_user_id("demo-gold", SECRET, lifetime_seconds=60, now=time.time() - 3600)
    with client.websocket_connect("/api/widget/ws") as socket:
        frame = hello(socket, identity_token=expired)
    assert frame == {"type": "hello", "conversation_id": None, "identity": "anonymous", "identity_problem": "expired"}


def test_the_state_names_the_owner(client: TestClient) -> None:
    post(client)
    state = client.get("/api/widget/state", params={"user_id": "browser-1"}).json()
    assert state["owner"] == "bot" and state["conversation_id"] is not None
    assert client.get("/api/widget/state", params={"user_id": "nobody"}).json()["owner"] is None


# --- embedding: CORS, websocket origin, the script and the demo page --------------------------------------------


def test_widget_routes_answer_cors_for_allowed_origins_only(client: TestClient) -> None:
    preflight = client.options(
        "/api/widget/messages",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:3000"
    history = client.get("/api/widget/history", params={"user_id": "b"}, headers={"Origin": "http://127.0.0.1:9"})
    assert history.headers["access-control-allow-origin"] == "http://127.0.0.1:9"
    elsewhere = client.get("/api/widget/history", params={"user_id": "b"}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in elsewhere.headers
    # Other routes never answer CORS, even for allowed origins.
    schema = client.get("/openapi.json", headers={"Origin": "http://localhost:3000"})
    assert "access-control-allow-origin" not in schema.headers


def test_configured_origins_replace_the_development_default(
    seeded_sessionmaker: sessionmaker[Session], fake_rasa: FakeRasa
) -> None:
    settings = Settings(widget_secret=SECRET, widget_allowed_origins="https://shop.example.com")
    with TestClient(create_app(seeded_sessionmaker, settings, httpx.MockTransport(fake_rasa.handle))) as client:
        allowed = client.get("/widget.js", headers={"Origin": "https://shop.example.com"})
        assert allowed.headers["access-control-allow-origin"] == "https://shop.example.com"
        local = client.get("/widget.js", headers={"Origin": "http://localhost:3000"})
        assert "access-control-allow-origin" not in local.headers
        with client.websocket_connect("/api/widget/ws", headers={"Origin": "http://localhost:3000"}) as socket:
            refused = socket.receive_json()
            assert refused["type"] == "error" and refused["code"] == "forbidden_origin"
            with pytest.raises(WebSocketDisconnect) as closed:
                socket.receive_json()
            assert closed.value.code == 4403
        with client.websocket_connect("/api/widget/ws", headers={"Origin": "https://shop.example.com"}) as socket:
            assert hello(socket)["type"] == "hello"


def test_the_widget_script_and_its_files_are_served(client: TestClient) -> None:
    script = client.get("/widget.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.headers["cache-control"] == "public, max-age=300" and script.headers["etag"]
    assert 'data-testid": "cs-launcher"' in script.text and "attachShadow" in script.text
    assert client.get("/widget.js", headers={"If-None-Match": script.headers["etag"]}).status_code == 304
    assert client.get("/widget/widget.css").status_code == 200
    config = client.get("/widget/config.json").json()
    assert config["texts"]["launcher"] and config["link_hosts"]


def test_the_demo_page_embeds_the_widget_with_one_script_tag_and_its_facts_come_from_the_crm(
    client: TestClient,
) -> None:
    page = client.get("/demo")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count('<script src="/widget.js" async></script>') == 1
    company = client.get("/api/demo/company").json()
    assert company["name"] == "悦享生活集团" and company["hotline"] == "400-851-6688"
    assert {b["name"] for b in company["businesses"]} >= {"悦享汽车美容养护", "悦享男装"}
    assert all(store["address"] for business in company["businesses"] for store in business["stores"])


def test_a_login_mid_conversation_keeps_it_on_each_database(
    any_seeded_sessionmaker: sessionmaker[Session], fake_rasa: FakeRasa
) -> None:
    settings = Settings(widget_secret=SECRET, rasa_url="http://rasa.internal:5005", rasa_timeout_seconds=1.0)
    app = create_app(any_seeded_sessionmaker, settings, httpx.MockTransport(fake_rasa.handle))
    with TestClient(app) as client:
        anonymous = post(client, text="我想预约洗车").json()
        logged_in = post(client, text="明天上午", identity_token=sign_web_user_id("demo-iron", SECRET)).json()
        assert logged_in["conversation_id"] == anonymous["conversation_id"]
        assert logged_in["identity"] == "customer"
    iron = customer_id_of(any_seeded_sessionmaker, "demo-iron")
    with any_seeded_sessionmaker() as session:
        conversation = session.get(Conversation, anonymous["conversation_id"])
        assert conversation is not None and conversation.channel_user_id == "demo-iron"
        assert conversation.customer_id == iron
