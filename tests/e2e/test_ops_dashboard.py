"""The analytics dashboard in a real browser (Debian's Chromium, Playwright): the day's conversations, an
escalation handled by an agent and its CSAT rating, made through the real API (Rasa answered by a fake that
also serves its tracker's parse), drawn as ECharts charts.

The API runs in a uvicorn thread on a seeded SQLite copy; no Rasa model is needed for what this page shows.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from core.settings import Settings
from crm.db import make_engine
from crm.models import Message
from crm.services import queue
from crm.services.accounts import DEMO_PASSWORD
from crm.services.escalation_rules import Decision
from tests.e2e.conftest import LiveStack
from tests.e2e.test_chat_page import browser  # noqa: F401  (the module-scoped Chromium fixture)

PARSES = {
    "你好": {"intent": {"name": "greet", "confidence": 0.97}},
    "你们几点营业": {
        "intent": {"name": "faq", "confidence": 0.9},
        "response_selector": {"faq": {"response": {"intent_response_key": "faq/business_hours"}}},
    },
    "转人工": {"intent": {"name": "request_human", "confidence": 0.95}},
    "啊啊啊": {"intent": {"name": "nlu_fallback", "confidence": 0.3}},
}


@dataclass
class FakeRasa:
    """Rasa's REST channel and its HTTP API tracker (the parse of each sender's latest message)."""

    latest: dict[str, str] = field(default_factory=dict)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        if request.method == "GET":
            sender = request.url.path.split("/")[2]
            text = self.latest.get(sender, "")
            return httpx.Response(200, json={"latest_message": {"text": text, **PARSES.get(text, {})}})
        body = json.loads(request.content)
        self.latest[body["sender"]] = body["message"]
        return httpx.Response(200, json=[{"recipient_id": body["sender"], "text": "好的，小悦在呢"}])


@dataclass(frozen=True)
class Dashboard:
    url: str
    factory: sessionmaker[Session]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def dashboard(seeded_db_url: str) -> Iterator[Dashboard]:
    engine = make_engine(seeded_db_url)
    factory = sessionmaker(engine, expire_on_commit=False)
    settings = Settings(widget_secret="test-secret", rasa_url="http://rasa.internal:5005", rasa_timeout_seconds=2.0)
    app = create_app(factory, settings, httpx.MockTransport(FakeRasa().handle))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the API did not start")
        time.sleep(0.05)
    try:
        yield Dashboard(f"http://127.0.0.1:{port}", factory)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


def login(api: httpx.Client, username: str) -> dict[str, str]:
    response = api.post("/api/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    response.raise_for_status()
    return response.json()


def say(api: httpx.Client, user: str, text: str) -> dict:
    response = api.post("/api/widget/messages", json={"user_id": user, "text": text})
    response.raise_for_status()
    return response.json()


def make_todays_activity(dashboard: Dashboard) -> None:
    """Two web chats today: one the bot handles alone, one handed to an agent who closes it and gets a 5."""
    with httpx.Client(base_url=dashboard.url, timeout=30) as api:
        say(api, "visitor-a", "你好")
        say(api, "visitor-a", "你们几点营业")
        say(api, "visitor-a", "啊啊啊")
        conversation_id = say(api, "visitor-b", "转人工")["conversation_id"]
        decision = Decision(
            action="escalate", tier=None, priority=1, sla_seconds=600, group=None, reason="customer asked for a person"
        )
        with dashboard.factory.begin() as session:  # what actions/handoff.py does on request_human
            queue.enqueue(session, conversation_id=conversation_id, decision=decision, business_code="hotel")
        agent = {"Authorization": f"Bearer {login(api, 'agent.chenjing')['access_token']}"}
        base = f"/api/agent/conversations/{conversation_id}"
        for path, body in (
            ("/claim", None),
            ("/messages", {"text": "您好，我是陈静"}),
            ("/close", {"summary": "answered", "outcome": "resolved"}),
        ):
            api.post(base + path, json=body, headers=agent).raise_for_status()
        say(api, "visitor-b", "5")  # the answer to the rating question
        time.sleep(0.5)  # the NLU readings are recorded in the background after each reply


def series_data(page: Page, chart_id: str) -> list[list[float | None]]:
    return page.evaluate(
        """id => echarts.getInstanceByDom(document.getElementById(id)).getOption().series
                 .map(s => s.data.map(v => (v && typeof v === 'object') ? v.value : v))""",
        chart_id,
    )


def total(data: list[list[float | None]]) -> float:
    return sum(value or 0 for series in data for value in series)


def test_the_dashboard_draws_the_days_conversations_escalations_and_csat(
    browser: Browser,  # noqa: F811
    dashboard: Dashboard,
) -> None:
    make_todays_activity(dashboard)
    with httpx.Client(base_url=dashboard.url) as api:
        ops = login(api, "ops")
    today = datetime.now(ZoneInfo(Settings().timezone)).date().isoformat()
    context = browser.new_context(base_url=dashboard.url, locale="zh-CN")
    context.add_init_script(
        f"sessionStorage.setItem('cs_staff_token', {json.dumps(ops['access_token'])});"
        f"sessionStorage.setItem('cs_staff_role', {json.dumps(ops['role'])});"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"/ops/analytics?from={today}&to={today}")
        expect(page.locator("body")).to_have_attribute("data-loaded", f"{today}..{today}", timeout=15_000)
        expect(page.locator("h1")).to_have_text("运营数据看板")
        expect(page.locator("#kpi-conversations")).to_have_text("2")
        expect(page.locator("#kpi-escalations")).to_have_text("1")
        expect(page.locator("#kpi-csat")).to_have_text("5.00")
        expect(page.locator("#kpi-containment")).to_have_text("50.0%")
        expect(page.locator("#kpi-fallback")).to_have_text("25.0%")  # 1 of the 4 messages the bot read
        for chart in ("chart-daily", "chart-escalation-tiers", "chart-csat-agents", "chart-complaints"):
            expect(page.locator(f"#{chart} canvas").first).to_be_visible()
        assert total(series_data(page, "chart-daily")) == 2
        assert total(series_data(page, "chart-escalation-tiers")) == 1
        assert series_data(page, "chart-csat-agents")[4] == [1]  # one rating of 5, for 陈静
        assert page.evaluate(
            "echarts.getInstanceByDom(document.getElementById('chart-csat-agents')).getOption().xAxis[0].data"
        ) == ["陈静"]
        assert total(series_data(page, "chart-intents")) == 4
        assert page.evaluate(  # the FAQ chart names the question, from the CRM
            "echarts.getInstanceByDom(document.getElementById('chart-faq')).getOption().yAxis[0].data"
        ) == ["你们几点开门？营业时间是什么？"]
        with page.expect_download() as download:
            page.click("#export")
        assert download.value.suggested_filename == f"analytics_{today}_{today}.csv"
        assert f"summary,{today}..{today},conversations,2" in Path(download.value.path()).read_text("utf-8-sig")
        assert errors == []
    finally:
        context.close()


def test_the_dashboard_sends_a_visitor_without_a_token_to_the_login(browser: Browser, dashboard: Dashboard) -> None:  # noqa: F811
    context = browser.new_context(base_url=dashboard.url, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto("/ops/analytics")
        page.wait_for_url("**/console/login?next=/ops/analytics", timeout=10_000)
    finally:
        context.close()


def test_the_live_bot_records_what_it_understood_of_each_message(api: httpx.Client, live_stack: LiveStack) -> None:
    """Against the real stack (Rasa with the trained model): the hub stores each parse and the analytics read it."""
    user = f"analytics-{uuid.uuid4().hex[:8]}"
    conversation_id = 0
    for text in ("你们几点营业", "我的订单到哪了"):
        # A loaded machine can make Rasa miss the hub's time budget ("系统繁忙", sender "system": no parse to
        # record); the customer would send it again, and so does this test.
        for _attempt in range(3):
            answer = say(api, user, text)
            replies, conversation_id = answer["replies"], answer["conversation_id"]
            if replies and all(reply["sender"] == "bot" for reply in replies):
                break
        else:
            pytest.fail(f"the bot did not answer {text!r}: {replies}")

    def recorded() -> dict[str, str]:
        """This conversation's customer messages and the intent recorded on each (the shared live stack has
        many other conversations, so the report's top lists need not show this one's)."""
        with live_stack.session_factory() as session:
            rows = session.scalars(
                select(Message).where(Message.conversation_id == conversation_id, Message.sender == "customer")
            ).all()
            return {row.text: ((row.payload or {}).get("nlu") or {}).get("intent", "") for row in rows}

    deadline = time.monotonic() + 15
    while "faq" not in recorded().values() and time.monotonic() < deadline:
        time.sleep(0.2)
    readings = recorded()
    assert readings["你们几点营业"] == "faq", readings
    # Known gap (closing note of stop 15): the anonymous order question starts the lookup form and its parse is
    # not recorded yet; it must at least never be recorded as something else.
    assert readings["我的订单到哪了"] in ("", "order_status"), readings
    headers = {"Authorization": f"Bearer {login(api, 'ops')['access_token']}"}
    today = datetime.now(ZoneInfo(Settings().timezone)).date().isoformat()
    report = api.get(f"/api/ops/analytics?from={today}&to={today}", headers=headers).json()
    intents = {item["key"]: item["count"] for item in report["top_intents"]}
    assert intents.get("faq", 0) >= 1, report
    assert report["top_faq_keys"], "the FAQ key of the faq message was not recorded"


def test_an_agent_token_is_told_it_may_not_see_the_figures(browser: Browser, dashboard: Dashboard) -> None:  # noqa: F811
    with httpx.Client(base_url=dashboard.url) as api:
        agent = login(api, "agent.lina")
    context = browser.new_context(base_url=dashboard.url, locale="zh-CN")
    context.add_init_script(f"sessionStorage.setItem('cs_staff_token', {json.dumps(agent['access_token'])});")
    page = context.new_page()
    try:
        page.goto("/ops/analytics")
        expect(page.locator("#status")).to_have_text("加载失败：当前账号无权查看运营数据。")
        expect(page.locator("#kpi-conversations")).to_have_text("–")
    finally:
        context.close()
