"""What "系统繁忙…服务恢复后我们会继续为您处理" means: a message no Rasa server took is answered, in order and once,
when one is back; a slow answer still reaches the customer through the outbound path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.hub.conversation_hub import ConversationHub, InboundMessage
from api.hub.rasa_client import RasaClient
from api.hub.rasa_replicas import RasaReplica, RasaReplicas
from api.texts import text as hub_text
from core.rate_limits import RateLimit, counter_storage
from crm.models import Message, PendingBotTurn
from crm.services import pending_turns

BUSY = hub_text("system_busy")


@dataclass
class OutageRasa:
    """A Rasa server that can be down (connection refused) or slow; records what it was sent, in order."""

    down: bool = False
    delay: float = 0.0
    seen: list[str] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("Connection refused", request=request)
        body = json.loads(request.content)
        self.seen.append(body["message"])
        if self.delay:
            await asyncio.sleep(self.delay)
        return httpx.Response(200, json=[{"recipient_id": body["sender"], "text": f"收到：{body['message']}"}])


@dataclass
class Hubs:
    session_factory: sessionmaker[Session]
    rasa: OutageRasa = field(default_factory=OutageRasa)
    made: list[tuple[ConversationHub, httpx.AsyncClient]] = field(default_factory=list)

    async def make(self, *, rasa_wait_seconds: float = 2.0) -> ConversationHub:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.rasa))

        async def alive() -> bool:
            return True

        hub = ConversationHub(
            self.session_factory,
            RasaReplicas([RasaReplica("rasa", RasaClient(http, "http://rasa.internal:5005", 10.0), alive)]),
            reply_wait_seconds=1.0,
            rasa_wait_seconds=rasa_wait_seconds,
            sweep_seconds=3600,  # the tests call sweep() themselves
        )
        await hub.start()
        self.made.append((hub, http))
        return hub


@pytest.fixture
async def hubs(seeded_sessionmaker: sessionmaker[Session]) -> AsyncIterator[Hubs]:
    made = Hubs(seeded_sessionmaker)
    yield made
    for hub, http in made.made:
        await hub.stop()
        await http.aclose()


def inbound(text: str, user: str = "anon:outage") -> InboundMessage:
    return InboundMessage(channel="web", channel_user_id=user, text=text)


def bot_answers(factory: sessionmaker[Session], conversation_id: int) -> list[tuple[int | None, str]]:
    """(message replied to, text) of every bot answer, in the order stored."""
    with factory() as session:
        rows = session.scalars(
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.sender == "bot")
            .order_by(Message.id)
        )
        return [(row.reply_to_id, row.text) for row in rows]


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_messages_sent_while_rasa_is_down_are_answered_in_order_once_it_is_back(
    hubs: Hubs, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    hub = await hubs.make()
    hubs.rasa.down = True
    first = await hub.handle(inbound("几点营业"))
    second = await hub.handle(inbound("能停车吗"))
    assert [m.text for m in first.replies] == [BUSY] and [m.sender for m in first.replies] == ["system"]
    assert [m.text for m in second.replies] == [BUSY]
    await hub.sweep()  # still down: nothing is lost, nothing answered
    assert hubs.rasa.seen == [] and bot_answers(seeded_sessionmaker, first.conversation.id) == []

    hubs.rasa.down = False
    await hub.sweep()
    assert hubs.rasa.seen == ["几点营业", "能停车吗"]
    assert bot_answers(seeded_sessionmaker, first.conversation.id) == [
        (first.message.id, "收到：几点营业"),
        (second.message.id, "收到：能停车吗"),
    ]
    await hub.sweep()
    assert hubs.rasa.seen == ["几点营业", "能停车吗"]  # once


async def test_a_new_message_waits_behind_the_held_ones(hubs: Hubs, seeded_sessionmaker: sessionmaker[Session]) -> None:
    hub = await hubs.make()
    hubs.rasa.down = True
    held = await hub.handle(inbound("我要预约洗车"))
    hubs.rasa.down = False
    # The customer writes again before any sweep: the held turn is answered first, then this one.
    now = await hub.handle(inbound("明天下午三点"))
    assert hubs.rasa.seen == ["我要预约洗车", "明天下午三点"]
    assert [m.text for m in now.replies] == ["收到：明天下午三点"]
    assert bot_answers(seeded_sessionmaker, held.conversation.id)[0] == (held.message.id, "收到：我要预约洗车")


async def test_two_processes_replay_each_held_turn_exactly_once(
    hubs: Hubs, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    one, two = await hubs.make(), await hubs.make()
    hubs.rasa.down = True
    for n in range(4):
        await one.handle(inbound(f"消息{n}", user=f"anon:outage-{n}"))
    hubs.rasa.down = False
    await asyncio.gather(one.sweep(), two.sweep(), one.sweep(), two.sweep())
    assert sorted(hubs.rasa.seen) == [f"消息{n}" for n in range(4)]
    with seeded_sessionmaker() as session:
        assert set(session.scalars(select(PendingBotTurn.state))) == {"done"}


async def test_a_slow_answer_reaches_the_customer_after_the_busy_notice(
    hubs: Hubs, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    hub = await hubs.make(rasa_wait_seconds=0.2)
    hubs.rasa.delay = 1.0
    result = await hub.handle(inbound("查一下我的订单"))
    assert [m.text for m in result.replies] == [BUSY]
    await eventually(lambda: bot_answers(seeded_sessionmaker, result.conversation.id) != [])
    assert bot_answers(seeded_sessionmaker, result.conversation.id) == [(result.message.id, "收到：查一下我的订单")]
    assert hubs.rasa.seen == ["查一下我的订单"]  # Rasa saw it once: a slow turn is never replayed
    with seeded_sessionmaker() as session:
        assert session.scalars(select(PendingBotTurn)).first() is None


async def test_held_turns_are_given_up_when_the_conversation_is_over(
    hubs: Hubs, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    hub = await hubs.make()
    hubs.rasa.down = True
    await hub.handle(inbound("在吗"))
    with seeded_sessionmaker.begin() as session:
        assert pending_turns.expire_stale(session, older_than=timedelta(0)) == 1
    hubs.rasa.down = False
    await hub.sweep()
    assert hubs.rasa.seen == []


async def test_a_flood_is_kept_in_the_transcript_but_not_sent_to_the_bot(
    seeded_sessionmaker: sessionmaker[Session],
) -> None:
    rasa = OutageRasa()
    async with httpx.AsyncClient(transport=httpx.MockTransport(rasa)) as http:

        async def alive() -> bool:
            return True

        hub = ConversationHub(
            seeded_sessionmaker,
            RasaReplicas([RasaReplica("rasa", RasaClient(http, "http://rasa.internal:5005", 5.0), alive)]),
            reply_wait_seconds=1.0,
            sweep_seconds=3600,
            message_limit=RateLimit("messages", "3/minute", counter_storage(None)),
        )
        await hub.start()
        try:
            results = [await hub.handle(inbound(f"第{n}条", user="anon:flood")) for n in range(4)]
            other = await hub.handle(inbound("你好", user="anon:calm"))
        finally:
            await hub.stop()
    assert rasa.seen == ["第0条", "第1条", "第2条", "你好"]
    notice = results[3].replies
    assert [m.sender for m in notice] == ["system"] and "有点快" in notice[0].text and "秒后再发" in notice[0].text
    assert results[3].message.text == "第3条"  # stored: an agent reading the transcript sees it
    assert other.replies[0].sender == "bot"
