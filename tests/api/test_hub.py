"""The hub's two halves against a real database, with Rasa replaced at the HTTP edge.

Outbound: stored once, published, delivered by the channel (connection-bound: every process; push: exactly one,
with retries and a recorded terminal failure). Inbound: routed to the owner; the bot is silent while the queue or an
agent owns the conversation. Lifecycle: idle or closed conversations are followed by new ones.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.hub.broker import Broker, InProcessBroker, RedisBroker, topics
from api.hub.conversation_hub import ConversationHub, InboundMessage
from api.hub.delivery import PushPolicy
from api.hub.rasa_client import RasaClient
from api.hub.rasa_replicas import RasaReplica, RasaReplicas
from crm.models import Agent, Conversation, ConversationOwnerChange, Message
from crm.schemas import ConversationOut, MessageOut, OutgoingMessage
from crm.services import conversation_ownership
from crm.types import utcnow


@dataclass
class Recorder:
    """A delivery that records what it was given; `fail_times` first attempts raise."""

    name: str = "recorder"
    fail_times: int = 0
    delay: float = 0.0
    delivered: list[tuple[str, int]] = field(default_factory=list)
    attempts: int = 0

    async def deliver(self, conversation: ConversationOut, message: MessageOut) -> None:
        self.attempts += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.attempts <= self.fail_times:
            raise ConnectionError("customer-service API returned 45015")
        self.delivered.append((self.name, message.id))


def scripted_rasa(requests: list[dict]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        requests.append(body)
        return httpx.Response(200, json=[{"recipient_id": body["sender"], "text": f"收到：{body['message']}"}])

    return httpx.MockTransport(handle)


@dataclass
class HubFactory:
    session_factory: sessionmaker[Session]
    rasa_requests: list[dict] = field(default_factory=list)
    hubs: list[tuple[ConversationHub, httpx.AsyncClient]] = field(default_factory=list)

    async def __call__(self, broker: Broker | None = None, **options: object) -> ConversationHub:
        http = httpx.AsyncClient(transport=scripted_rasa(self.rasa_requests))

        async def alive() -> bool:
            return True

        actions_alive: Callable[[], Awaitable[bool]] = alive
        hub = ConversationHub(
            self.session_factory,
            RasaReplicas([RasaReplica("rasa", RasaClient(http, "http://rasa.internal:5005", 2.0), actions_alive)]),
            reply_wait_seconds=1.0,
            broker=broker,
            sweep_seconds=3600,  # tests call sweep() themselves
            **options,  # type: ignore[arg-type]
        )
        await hub.start()
        self.hubs.append((hub, http))
        return hub


@pytest.fixture
async def make_hub(seeded_sessionmaker: sessionmaker[Session]) -> AsyncIterator[HubFactory]:
    factory = HubFactory(seeded_sessionmaker)
    yield factory
    for hub, http in factory.hubs:
        await hub.stop()
        await http.aclose()


def inbound(text: str, user: str = "anon:u1", channel: str = "web", **extra: object) -> InboundMessage:
    return InboundMessage(channel=channel, channel_user_id=user, text=text, **extra)  # type: ignore[arg-type]


def agent_id(factory: sessionmaker[Session], name: str = "李娜") -> int:
    with factory() as session:
        return session.scalars(select(Agent.id).where(Agent.name == name)).one()


def stored(factory: sessionmaker[Session], conversation_id: int) -> list[Message]:
    with factory() as session:
        return list(
            session.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id))
        )


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


# --- outbound --------------------------------------------------------------------------------------------------


async def test_an_agent_message_is_stored_once_published_and_delivered(
    make_hub: HubFactory, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    hub = await make_hub()
    web = Recorder()
    hub.register_delivery("web", web, push=False)
    first = await hub.handle(inbound("你好"))
    lina = agent_id(seeded_sessionmaker)

    async with hub.broker.subscribe(topics.conversation(first.conversation.id)) as live:
        sent = await hub.send(
            first.conversation.id, sender="agent", agent_id=lina, messages=[OutgoingMessage(text="您好，我是李娜")]
        )
        event = await live.get(timeout=5)

    assert [m.text for m in sent] == ["您好，我是李娜"]
    assert sent[0].sender == "agent" and sent[0].agent_name == "李娜" and sent[0].agent_id == lina
    assert [m["id"] for m in event["messages"]] == [sent[0].id]
    await eventually(lambda: ("recorder", sent[0].id) in web.delivered)
    rows = stored(seeded_sessionmaker, first.conversation.id)
    assert [(r.direction, r.sender, r.text) for r in rows] == [
        ("in", "customer", "你好"),
        ("out", "bot", "收到：你好"),
        ("out", "agent", "您好，我是李娜"),
    ]
    # The bot's reply went out on the socket too (the POST also returned it; the page de-duplicates by id).
    assert [i for _, i in web.delivered] == [first.replies[0].id, sent[0].id]
    assert rows[2].delivery_state is None  # web is connection-bound: nothing to claim


async def test_send_refuses_what_is_not_an_outbound_message(make_hub: HubFactory) -> None:
    hub = await make_hub()
    conversation = (await hub.handle(inbound("你好"))).conversation
    with pytest.raises(ValueError, match="handle"):
        await hub.send(conversation.id, sender="customer", messages=[OutgoingMessage(text="x")])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="agent_id"):
        await hub.send(conversation.id, sender="agent", messages=[OutgoingMessage(text="x")])


async def test_while_the_queue_or_an_agent_owns_it_the_bot_is_silent_and_the_console_hears(
    make_hub: HubFactory, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    hub = await make_hub()
    conversation = (await hub.handle(inbound("我要投诉"))).conversation
    with seeded_sessionmaker.begin() as session:
        conversation_ownership.change_owner(
            session, conversation_id=conversation.id, to_owner="queue", reason="complaint", actor="bot"
        )
    asked_before = len(make_hub.rasa_requests)

    async with hub.broker.subscribe(topics.CONSOLE) as console:
        waiting = await hub.handle(inbound("人呢？"))
        event = await console.get(timeout=5)

        await hub.announce(waiting.conversation, "owner")
        announced = await console.get(timeout=5)

    assert announced["type"] == "owner" and announced["conversation"]["owner"] == "queue"
    assert waiting.replies == [] and waiting.conversation.id == conversation.id
    assert waiting.conversation.owner == "queue"
    assert len(make_hub.rasa_requests) == asked_before
    assert event["type"] == "inbound" and event["messages"][0]["text"] == "人呢？"
    assert stored(seeded_sessionmaker, conversation.id)[-1].text == "人呢？"


# --- push delivery ---------------------------------------------------------------------------------------------


async def two_processes(
    factory: sessionmaker[Session], redis_url: str | None, namespace: str, **options: object
) -> tuple[HubFactory, ConversationHub, ConversationHub]:
    make = HubFactory(factory)
    if redis_url is None:
        shared = InProcessBroker()
        brokers: list[Broker] = [shared, shared]
    else:
        brokers = [RedisBroker(redis_url, namespace), RedisBroker(redis_url, namespace)]
    first = await make(brokers[0], **options)
    second = await make(brokers[1], **options)
    return make, first, second


async def stop_all(make: HubFactory) -> None:
    for hub, http in make.hubs:
        await hub.stop()
        await http.aclose()


async def test_each_push_message_is_delivered_exactly_once_by_two_concurrent_processes(
    any_seeded_sessionmaker: sessionmaker[Session], redis_url: str, namespace: str
) -> None:
    make, first, second = await two_processes(any_seeded_sessionmaker, redis_url, namespace)
    try:
        deliverers = [Recorder("A", delay=0.01), Recorder("B", delay=0.01)]
        first.register_delivery("wechat", deliverers[0])
        second.register_delivery("wechat", deliverers[1])
        conversation = (await first.handle(inbound("你好", user="openid-1", channel="wechat"))).conversation

        sent = []
        for n in range(6):
            sender = first if n % 2 else second
            sent += await sender.send(conversation.id, sender="system", messages=[OutgoingMessage(text=f"通知{n}")])

        def all_delivered() -> bool:
            return sum(len(d.delivered) for d in deliverers) >= len(sent)

        await eventually(all_delivered)
        await asyncio.sleep(0.3)  # a second delivery would have happened by now
        delivered_ids = sorted(i for d in deliverers for _, i in d.delivered)
        assert delivered_ids == sorted(m.id for m in sent)
        rows = {r.id: r for r in stored(any_seeded_sessionmaker, conversation.id)}
        assert all(rows[m.id].delivery_state == "delivered" and rows[m.id].delivery_attempts == 1 for m in sent)
        # The bot's reply went back in the channel's own response: never pushed.
        assert rows[max(rows)].id == sent[-1].id
        reply = next(r for r in rows.values() if r.sender == "bot")
        assert reply.delivery_state is None

        # Both processes racing for the same message: one claim wins.
        extra = await first.send(conversation.id, sender="system", messages=[OutgoingMessage(text="再次通知")])
        results = await asyncio.gather(
            first.deliveries.deliver_push(conversation, extra[0]),
            second.deliveries.deliver_push(conversation, extra[0]),
        )
        await eventually(lambda: extra[0].id in [i for d in deliverers for _, i in d.delivered])
        await asyncio.sleep(0.3)
        assert [i for d in deliverers for _, i in d.delivered].count(extra[0].id) == 1
        assert results.count(True) <= 1
    finally:
        await stop_all(make)


async def test_a_failed_push_is_retried_then_recorded_as_failed(
    make_hub: HubFactory, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    hub = await make_hub(push_policy=PushPolicy(max_attempts=3, backoff=timedelta(0), lease=timedelta(seconds=60)))
    flaky = Recorder(fail_times=1)
    hub.register_delivery("wechat", flaky)
    conversation = (await hub.handle(inbound("你好", user="openid-2", channel="wechat"))).conversation

    recovered = await hub.send(conversation.id, sender="system", messages=[OutgoingMessage(text="排队中")])
    await eventually(lambda: flaky.attempts == 1)
    await hub.sweep()
    await eventually(lambda: bool(flaky.delivered))
    row = stored(seeded_sessionmaker, conversation.id)[-1]
    assert row.id == recovered[0].id
    assert (row.delivery_state, row.delivery_attempts, row.delivery_error) == ("delivered", 2, None)
    assert row.delivered_at is not None

    flaky.fail_times = 100
    doomed = await hub.send(conversation.id, sender="system", messages=[OutgoingMessage(text="评价邀请")])
    for _ in range(5):
        await hub.sweep()
    row = stored(seeded_sessionmaker, conversation.id)[-1]
    assert row.id == doomed[0].id
    assert (row.delivery_state, row.delivery_attempts) == ("failed", 3)
    assert row.delivery_error and "45015" in row.delivery_error
    assert row.delivered_at is None


async def test_a_claim_abandoned_by_a_dead_process_is_taken_over_after_its_lease(
    make_hub: HubFactory, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    hub = await make_hub(push_policy=PushPolicy(lease=timedelta(seconds=60)))
    conversation = (await hub.handle(inbound("你好", user="openid-3", channel="wechat"))).conversation
    late = Recorder()
    hub.register_delivery("wechat", late)
    message = (await hub.send(conversation.id, sender="system", messages=[OutgoingMessage(text="您好")]))[0]
    await eventually(lambda: bool(late.delivered))
    # Simulate a process that claimed a message and died: "sending" with an expired lease.
    with seeded_sessionmaker.begin() as session:
        session.execute(
            update(Message)
            .where(Message.id == message.id)
            .values(delivery_state="sending", next_attempt_at=utcnow() - timedelta(seconds=1))
        )
    await hub.sweep()
    assert [i for _, i in late.delivered] == [message.id, message.id]
    assert stored(seeded_sessionmaker, conversation.id)[-1].delivery_state == "delivered"


async def test_a_push_channel_may_ask_for_the_bot_replies_to_be_pushed(make_hub: HubFactory) -> None:
    hub = await make_hub()
    pushed = Recorder()
    hub.register_delivery("wechat", pushed)
    result = await hub.handle(inbound("你好", user="openid-4", channel="wechat", replies_in_response=False))
    await eventually(lambda: [i for _, i in pushed.delivered] == [r.id for r in result.replies])


# --- lifecycle -------------------------------------------------------------------------------------------------


def age_conversation(factory: sessionmaker[Session], conversation_id: int, minutes: int) -> None:
    with factory.begin() as session:
        session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(last_message_at=utcnow() - timedelta(minutes=minutes))
        )


async def test_after_the_idle_time_the_next_message_opens_a_new_conversation(
    make_hub: HubFactory, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    hub = await make_hub(idle_after=timedelta(minutes=30))
    first = (await hub.handle(inbound("你好"))).conversation
    age_conversation(seeded_sessionmaker, first.id, 29)
    assert (await hub.handle(inbound("还在吗"))).conversation.id == first.id

    age_conversation(seeded_sessionmaker, first.id, 31)
    second = (await hub.handle(inbound("我回来了"))).conversation
    assert second.id != first.id and second.status == "open"
    assert second.rasa_sender_id != first.rasa_sender_id
    assert make_hub.rasa_requests[-1]["sender"] == second.rasa_sender_id
    with seeded_sessionmaker() as session:
        old = session.get_one(Conversation, first.id)
        assert (old.status, old.close_reason) == ("closed", "idle") and old.closed_at is not None
    assert [m.text for m in stored(seeded_sessionmaker, second.id) if m.direction == "in"] == ["我回来了"]


async def test_the_sweeper_closes_idle_bot_conversations_but_not_a_waiting_customer(
    make_hub: HubFactory, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    hub = await make_hub(idle_after=timedelta(minutes=30))
    idle = (await hub.handle(inbound("你好", user="anon:idle"))).conversation
    waiting = (await hub.handle(inbound("转人工", user="anon:waiting"))).conversation
    fresh = (await hub.handle(inbound("你好", user="anon:fresh"))).conversation
    with seeded_sessionmaker.begin() as session:
        conversation_ownership.change_owner(
            session, conversation_id=waiting.id, to_owner="queue", reason="request", actor="bot"
        )
    age_conversation(seeded_sessionmaker, idle.id, 45)
    age_conversation(seeded_sessionmaker, waiting.id, 45)

    await hub.sweep()
    with seeded_sessionmaker() as session:
        statuses = {c.id: c.status for c in session.scalars(select(Conversation))}
    assert (statuses[idle.id], statuses[waiting.id], statuses[fresh.id]) == ("closed", "open", "open")


async def test_a_conversation_closed_by_an_agent_is_followed_by_a_new_one(
    make_hub: HubFactory, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    hub = await make_hub()
    first = (await hub.handle(inbound("你好"))).conversation
    lina = agent_id(seeded_sessionmaker)
    with seeded_sessionmaker.begin() as session:
        conversation_ownership.change_owner(
            session, conversation_id=first.id, to_owner="queue", reason="request", actor="bot"
        )
        conversation_ownership.change_owner(
            session, conversation_id=first.id, to_owner="agent", agent_id=lina, reason="claim", actor=f"agent:{lina}"
        )
        conversation_ownership.close_conversation(
            session, conversation_id=first.id, reason="agent", actor=f"agent:{lina}"
        )
    # A closing notice after the close still reaches the transcript of the closed conversation.
    notice = await hub.send(first.id, sender="system", messages=[OutgoingMessage(text="本次服务已结束")])
    assert notice[0].conversation_id == first.id

    second = await hub.handle(inbound("你好"))
    assert second.conversation.id != first.id
    assert second.conversation.owner == "bot" and second.replies  # the bot answers again
    with seeded_sessionmaker() as session:
        history = [
            (c.from_owner, c.to_owner)
            for c in session.scalars(
                select(ConversationOwnerChange).where(ConversationOwnerChange.conversation_id == first.id)
            )
        ]
    assert history == [("bot", "queue"), ("queue", "agent")]
