"""The analytics API contract: JSON keys, CSV, staff roles (401/403), bad dates (422); the dashboard page and
ECharts are served; the hub records what the bot understood of each message."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.hub.nlu_record import reading_from_parse
from api.main import create_app
from api.routers.ops_analytics import ECHARTS_FILE
from core.settings import Settings
from crm.models import Message
from crm.services.accounts import DEMO_PASSWORD
from crm.services.analytics.nlu import NluReading
from tests.crm.analytics_data import FIRST, LAST, add_week_end

CONTRACT_KEYS = {
    "conversations",
    "containment_rate",
    "escalation_rate",
    "fallback_rate",
    "csat_average",
    "sla_compliance",
}


class FakeRasa:
    """Rasa's REST channel plus the HTTP API's tracker, as the hub asks them; the action server's health."""

    def __init__(self) -> None:
        self.latest_message: dict = {}
        self.tracker_paths: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        if request.method == "GET" and request.url.path.endswith("/tracker"):
            assert request.url.params["include_events"] == "NONE"
            # Rasa's HTTP API does not unescape the conversation id: "web:anon:…" must arrive as it is.
            self.tracker_paths.append(request.url.raw_path.decode())
            return httpx.Response(200, json={"sender_id": "x", "latest_message": self.latest_message})
        body = json.loads(request.content)
        return httpx.Response(200, json=[{"recipient_id": body["sender"], "text": "营业时间是 10:00-22:00"}])


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
def app_client(seeded_sessionmaker: sessionmaker[Session], fake_rasa: FakeRasa) -> Iterator[TestClient]:
    with seeded_sessionmaker.begin() as session:
        add_week_end(session)
    settings = Settings(widget_secret="test-secret", rasa_url="http://rasa.internal:5005", rasa_timeout_seconds=1.0)
    with TestClient(create_app(seeded_sessionmaker, settings, httpx.MockTransport(fake_rasa.handle))) as client:
        yield client


def token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize("username", ["ops", "supervisor"])
def test_analytics_json_has_the_contract_keys_with_the_figures(app_client: TestClient, username: str) -> None:
    response = app_client.get(f"/api/ops/analytics?from={FIRST}&to={LAST}", headers=token(app_client, username))
    assert response.status_code == 200, response.text
    body = response.json()
    assert CONTRACT_KEYS <= body.keys()
    assert (body["conversations"], body["containment_rate"], body["escalation_rate"]) == (5, 0.4, 0.6)
    assert (body["fallback_rate"], body["csat_average"]) == (0.25, 3.5)
    assert body["sla_compliance"] == {"platinum": 0.0, "gold": 1.0, "iron": None, "lead": None, "anonymous": None}
    assert [day["total"] for day in body["conversations_by_day"]] == [2, 3]


def test_analytics_as_csv(app_client: TestClient) -> None:
    response = app_client.get(f"/api/ops/analytics?from={FIRST}&to={LAST}&format=csv", headers=token(app_client, "ops"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == f'attachment; filename="analytics_{FIRST}_{LAST}.csv"'
    rows = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"))))
    assert rows[0] == ["section", "item", "metric", "value"]
    assert ["summary", f"{FIRST}..{LAST}", "conversations", "5"] in rows


def test_feedback_report_per_department_as_json_and_csv(app_client: TestClient) -> None:
    headers = token(app_client, "ops")
    body = app_client.get(f"/api/ops/analytics/feedback?from={FIRST}&to={LAST}", headers=headers).json()
    assert [item["ticket_number"] for item in body["items"]] == ["TS202701100001", "TS202701110001", "TS202701110002"]
    assert {group["business"]: group["total"] for group in body["departments"]} == {
        "hotel": 1,
        "restaurant": 1,
        "general": 1,
    }
    response = app_client.get(
        f"/api/ops/analytics/feedback?from={FIRST}&to={LAST}&business=restaurant&format=csv", headers=headers
    )
    assert response.status_code == 200
    assert "feedback_restaurant_" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"))))
    assert [row[0] for row in rows[1:]] == ["TS202701110001"]


def test_an_unknown_department_is_refused(app_client: TestClient) -> None:
    response = app_client.get(
        f"/api/ops/analytics/feedback?from={FIRST}&to={LAST}&business=spa", headers=token(app_client, "ops")
    )
    assert response.status_code == 422
    assert response.json()["detail"]["code"] == "unknown_business"
    assert "spa" in response.json()["detail"]["message"]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("from=2027-01-32&to=2027-02-01", "'from' must be a date as YYYY-MM-DD, got '2027-01-32'"),
        ("from=2027-01-10&to=tomorrow", "'to' must be a date as YYYY-MM-DD, got 'tomorrow'"),
        ("from=2027-01-12&to=2027-01-11", "'from' (2027-01-12) is after 'to' (2027-01-11)"),
    ],
)
def test_bad_dates_are_422_with_the_reason(app_client: TestClient, query: str, reason: str) -> None:
    response = app_client.get(f"/api/ops/analytics?{query}", headers=token(app_client, "ops"))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "invalid_period"
    assert detail["message"].endswith(reason)


def test_missing_dates_and_a_bad_format_are_422(app_client: TestClient) -> None:
    headers = token(app_client, "ops")
    assert app_client.get(f"/api/ops/analytics?from={FIRST}", headers=headers).status_code == 422
    response = app_client.get(f"/api/ops/analytics?from={FIRST}&to={LAST}&format=xml", headers=headers)
    assert (response.status_code, response.json()["detail"]["code"]) == (422, "invalid_request")


def test_analytics_needs_an_ops_or_supervisor_token(app_client: TestClient) -> None:
    url = f"/api/ops/analytics?from={FIRST}&to={LAST}"
    assert app_client.get(url).status_code == 401
    assert app_client.get(url, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    assert app_client.get(url, headers=token(app_client, "agent.lina")).status_code == 403
    feedback = f"/api/ops/analytics/feedback?from={FIRST}&to={LAST}"
    assert app_client.get(feedback, headers=token(app_client, "agent.lina")).status_code == 403


def test_the_dashboard_page_and_echarts_are_served(app_client: TestClient) -> None:
    page = app_client.get("/ops/analytics")
    assert page.status_code == 200
    assert '<script src="/vendor/echarts.min.js"></script>' in page.text
    if not ECHARTS_FILE.exists():
        pytest.fail("ECharts is not installed: run make setup (npm ci in api/static/vendor)")
    script = app_client.get("/vendor/echarts.min.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "echarts" in script.text[:2000].lower()


def test_the_hub_records_intent_and_faq_key_of_a_bot_answered_message(
    app_client: TestClient, fake_rasa: FakeRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    fake_rasa.latest_message = {
        "text": "你们几点开门",
        "intent": {"name": "faq", "confidence": 0.91},
        "response_selector": {"faq": {"response": {"intent_response_key": "faq/opening_hours", "confidence": 0.8}}},
    }
    response = app_client.post("/api/widget/messages", json={"user_id": "browser-nlu", "text": "你们几点开门"})
    assert response.status_code == 200, response.text
    message_id = response.json()["message_id"]
    deadline = time.monotonic() + 5
    payload = None
    while time.monotonic() < deadline:  # recorded in the background after the reply
        with seeded_sessionmaker() as session:
            payload = session.scalar(select(Message.payload).where(Message.id == message_id))
        if payload:
            break
        time.sleep(0.05)
    assert payload == {"nlu": {"intent": "faq", "confidence": 0.91, "faq_key": "opening_hours"}}
    assert fake_rasa.tracker_paths[0].startswith("/conversations/web:anon:browser-nlu:")


@pytest.mark.parametrize(
    ("parse", "sent", "expected"),
    [
        ({"text": "你好", "intent": {"name": "greet", "confidence": 0.97}}, "你好",
         NluReading(intent="greet", confidence=0.97)),
        ({"text": "/request_human", "intent": {"name": "request_human", "confidence": 1.0}}, "/request_human",
         NluReading(intent="request_human", confidence=1.0)),
        # The customer's next message was parsed before this look-up: nothing is recorded rather than a wrong intent.
        ({"text": "在吗", "intent": {"name": "greet", "confidence": 0.9}}, "你好", None),
        ({"text": "你好", "intent": {}}, "你好", None),
        ({}, "你好", None),
        # A FAQ key only for the faq intent.
        ({"text": "几点", "intent": {"name": "inform", "confidence": 0.5},
          "response_selector": {"faq": {"response": {"intent_response_key": "faq/opening_hours"}}}}, "几点",
         NluReading(intent="inform", confidence=0.5)),
    ],
)  # fmt: skip
def test_reading_from_a_rasa_parse(parse: dict, sent: str, expected: NluReading | None) -> None:
    assert reading_from_parse(parse, sent=sent) == expected
