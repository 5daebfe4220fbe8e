"""Two API processes (uvicorn subprocesses) on one PostgreSQL CRM and Redis, with the live stack's Rasa.

What one process sends to a customer reaches the customer's websocket held by the other process, and a
reconnect to either process catches up from the transcript without losing or repeating a message.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
import websockets
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.hub.broker import make_broker
from api.hub.conversation_hub import ConversationHub
from api.hub.rasa_client import RasaClient
from api.hub.rasa_replicas import RasaReplica, RasaReplicas
from core.settings import Settings
from crm.db import make_engine
from crm.models import Agent
from crm.schemas import OutgoingMessage
from stack.database import prepare_database
from stack.ephemeral import free_port
from stack.processes import RunningProcess, service_specs, start, stop_all, wait_until_ready
from tests.api.conftest import REDIS_URL
from tests.crm.conftest import DatabaseFactory
from tests.e2e.conftest import LiveStack
from tests.e2e.test_chat_page import browser  # noqa: F401 - the fixture

REPLY_TIMEOUT_SECONDS = 30.0


@dataclass
class TwoApis:
    settings: list[Settings]
    processes: list[RunningProcess]
    database_url: str

    def http_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.settings[index].api_port}"

    def ws_url(self, index: int) -> str:
        return f"ws://127.0.0.1:{self.settings[index].api_port}/api/widget/ws"


@pytest.fixture(scope="module")
def two_apis(tmp_path_factory: pytest.TempPathFactory, live_stack: LiveStack, rasa_model: Path) -> Iterator[TwoApis]:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError as error:
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {error}")
    workdir = tmp_path_factory.mktemp("two-apis")
    databases = DatabaseFactory("postgresql", workdir)  # skips when PostgreSQL is down
    database_url = databases.create(migrate=False)
    settings = [
        Settings(
            database_url=database_url,
            redis_url=REDIS_URL,
            api_port=free_port(),
            rasa_port=live_stack.settings.rasa_port,
            rasa_url=live_stack.rasa_url,
            action_port=live_stack.settings.action_port,
        )
        for _ in range(2)
    ]
    prepare_database(database_url)
    processes = []
    try:
        for index, process_settings in enumerate(settings):
            spec = next(s for s in service_specs(process_settings, rasa_model) if s.name == "api")
            process = start(spec, log_dir=workdir / f"logs-{index}")
            processes.append(process)
            wait_until_ready(process, 120)
        yield TwoApis(settings, processes, database_url)
    finally:
        stop_all(processes)
        databases.drop_all()


async def receive_messages(socket: websockets.WebSocketClientProtocol, count: int) -> list[dict]:
    messages = []
    while len(messages) < count:
        frame = json.loads(await asyncio.wait_for(socket.recv(), REPLY_TIMEOUT_SECONDS))
        assert frame["type"] == "message", frame
        messages.append(frame["message"])
    return messages


async def hello(socket: websockets.WebSocketClientProtocol, user_id: str, last_id: int) -> dict:
    await socket.send(json.dumps({"type": "hello", "user_id": user_id, "last_id": last_id}))
    return json.loads(await asyncio.wait_for(socket.recv(), REPLY_TIMEOUT_SECONDS))


async def nothing_more(socket: websockets.WebSocketClientProtocol, seconds: float = 1.0) -> bool:
    try:
        await asyncio.wait_for(socket.recv(), seconds)
    except asyncio.TimeoutError:
        return True
    return False


async def test_what_process_a_sends_reaches_the_socket_on_process_b_and_reconnects_catch_up(
    two_apis: TwoApis,
) -> None:
    user = f"two-{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(timeout=REPLY_TIMEOUT_SECONDS) as http:
        async with websockets.connect(two_apis.ws_url(1)) as on_b:
            assert (await hello(on_b, user, 0)) == {"type": "hello", "conversation_id": None}
            # The bot's replies to a message posted to process A: stored and published by A, pushed by B.
            response = await http.post(
                two_apis.http_url(0) + "/api/widget/messages", json={"user_id": user, "text": "你好"}
            )
            assert response.status_code == 200, response.text
            answered = response.json()
            assert answered["replies"], answered
            pushed = await receive_messages(on_b, len(answered["replies"]))
            assert [m["id"] for m in pushed] == [r["id"] for r in answered["replies"]]
            assert all(m["sender"] == "bot" for m in pushed)

            # An agent's message through the outbound entry point of a third process (this test's own hub).
            agent_message = await send_as_agent(two_apis, answered["conversation_id"], "您好，我是客服李娜")
            from_agent = (await receive_messages(on_b, 1))[0]
            assert (from_agent["id"], from_agent["agent_name"]) == (agent_message, "李娜")
            assert await nothing_more(on_b)  # each message once
            last_seen = from_agent["id"]

        # While the page is away, process A answers another message; the page reconnects to A.
        missed = await http.post(
            two_apis.http_url(0) + "/api/widget/messages", json={"user_id": user, "text": "你是机器人吗"}
        )
        missed_replies = missed.json()["replies"]
        async with websockets.connect(two_apis.ws_url(0)) as on_a:
            assert (await hello(on_a, user, last_seen))["conversation_id"] == answered["conversation_id"]
            caught_up = await receive_messages(on_a, 1 + len(missed_replies))
            assert [m["text"] for m in caught_up] == ["你是机器人吗"] + [r["text"] for r in missed_replies]
            assert await nothing_more(on_a)


async def send_as_agent(two_apis: TwoApis, conversation_id: int, text: str) -> int:
    engine = make_engine(two_apis.database_url)
    factory: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)
    with factory() as session:
        agent_id = session.scalars(select(Agent.id).where(Agent.name == "李娜")).one()
    async with httpx.AsyncClient() as http:

        async def alive() -> bool:
            return True

        hub = ConversationHub(
            factory,
            RasaReplicas([RasaReplica("rasa", RasaClient(http, two_apis.settings[0].rasa_url, 5.0), alive)]),
            reply_wait_seconds=5.0,
            broker=make_broker(REDIS_URL, str(engine.url)),
        )
        await hub.start()
        try:
            sent = await hub.send(
                conversation_id, sender="agent", agent_id=agent_id, messages=[OutgoingMessage(text=text)]
            )
        finally:
            await hub.stop()
            engine.dispose()
    return sent[0].id


def test_the_page_shows_an_agent_message_sent_by_another_process_once_and_after_a_reload(
    two_apis: TwoApis,
    browser: Browser,  # noqa: F811 - the fixture
) -> None:
    context = browser.new_context(base_url=two_apis.http_url(1), locale="zh-CN")
    page = context.new_page()
    try:
        page.goto("/chat")
        expect(page.locator("body[data-live]")).to_have_count(1, timeout=10_000)
        page.fill("#input", "你好")
        page.press("#input", "Enter")
        expect(page.locator("li.msg--in[data-id]")).to_have_count(1, timeout=30_000)
        expect(page.locator("li.typing")).to_have_count(0, timeout=30_000)
        bot_replies = page.locator("li.msg--out").count()
        conversation_id = page.evaluate(
            """async () => {
                const r = await fetch("/api/widget/history?user_id=" + localStorage.getItem("cs.browserId"));
                return (await r.json()).conversation_id;
            }"""
        )

        text = "<b>您好</b>，我是客服李娜"
        # Playwright's sync API runs its own event loop in this thread: the agent speaks from another thread.
        with ThreadPoolExecutor(max_workers=1) as other_thread:
            other_thread.submit(asyncio.run, send_as_agent(two_apis, conversation_id, text)).result(timeout=60)
        from_agent = page.locator("li.msg--out", has_text="我是客服李娜")
        expect(from_agent).to_have_count(1, timeout=10_000)
        expect(from_agent.locator(".msg__sender")).to_have_text("客服 李娜")
        assert text in from_agent.inner_text()  # shown as text, never parsed as HTML
        assert from_agent.locator("b").count() == 0
        expect(page.locator("li.msg--out")).to_have_count(bot_replies + 1)

        page.reload()
        expect(page.locator("body[data-live]")).to_have_count(1, timeout=10_000)
        expect(page.locator("li.msg--out", has_text="我是客服李娜")).to_have_count(1)
        expect(page.locator("li.msg--in")).to_have_count(1)
    finally:
        context.close()
