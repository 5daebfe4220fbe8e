"""The broker, in-process and on Redis: what one side publishes, every subscriber of the topic gets, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from api.hub.broker import Broker, InProcessBroker, RedisBroker, make_broker, namespace_for, topics

BrokerPair = tuple[Broker, Broker]


@pytest.fixture(params=["in_process", "redis"])
async def brokers(request: pytest.FixtureRequest, namespace: str) -> AsyncIterator[BrokerPair]:
    """Two brokers as two API processes would hold them (in-process: the same one, there is one process)."""
    if request.param == "in_process":
        broker = InProcessBroker()
        yield broker, broker
        return
    url = request.getfixturevalue("redis_url")
    first, second = RedisBroker(url, namespace), RedisBroker(url, namespace)
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def test_every_subscriber_of_a_topic_gets_each_event_in_order(brokers: BrokerPair) -> None:
    publisher, other = brokers
    async with publisher.subscribe("conversation:1") as local, other.subscribe("conversation:1") as remote:
        for n in range(3):
            await publisher.publish("conversation:1", {"type": "messages", "n": n})
        for subscription in (local, remote):
            received = [await subscription.get(timeout=5) for _ in range(3)]
            assert [event["n"] for event in received] == [0, 1, 2]


async def test_a_subscriber_hears_only_its_topic(brokers: BrokerPair) -> None:
    publisher, other = brokers
    async with other.subscribe(topics.conversation(2)) as two, other.subscribe(topics.CONSOLE) as console:
        await publisher.publish(topics.conversation(3), {"n": 3})
        await publisher.publish(topics.conversation(2), {"n": 2})
        await publisher.publish(topics.CONSOLE, {"n": "c"})
        assert (await two.get(timeout=5))["n"] == 2
        assert (await console.get(timeout=5))["n"] == "c"
        with pytest.raises(asyncio.TimeoutError):
            await two.get(timeout=0.3)


async def test_after_unsubscribing_nothing_arrives_and_other_subscribers_keep_theirs(brokers: BrokerPair) -> None:
    publisher, other = brokers
    async with other.subscribe("t") as staying:
        async with other.subscribe("t") as leaving:
            await publisher.publish("t", {"n": 1})
            assert (await leaving.get(timeout=5))["n"] == 1
        await publisher.publish("t", {"n": 2})
        assert [(await staying.get(timeout=5))["n"] for _ in range(2)] == [1, 2]
        with pytest.raises(asyncio.TimeoutError):
            await leaving.get(timeout=0.3)


async def test_subscribers_never_share_the_publishers_objects(brokers: BrokerPair) -> None:
    publisher, other = brokers
    event = {"messages": [{"id": 1}]}
    async with other.subscribe("t") as subscription:
        await publisher.publish("t", event)
        received = await subscription.get(timeout=5)
    received["messages"].append({"id": 2})
    assert event == {"messages": [{"id": 1}]}


async def test_redis_namespaces_keep_deployments_apart(redis_url: str, namespace: str) -> None:
    ours, theirs = RedisBroker(redis_url, namespace), RedisBroker(redis_url, namespace + "-other")
    await ours.start()
    await theirs.start()
    try:
        async with ours.subscribe("outbound") as subscription:
            await theirs.publish("outbound", {"n": "theirs"})
            await ours.publish("outbound", {"n": "ours"})
            assert (await subscription.get(timeout=5))["n"] == "ours"
    finally:
        await ours.close()
        await theirs.close()


@pytest.mark.parametrize(
    ("redis_url_setting", "expected"), [(None, InProcessBroker), ("redis://127.0.0.1:6379/5", RedisBroker)]
)
def test_make_broker_uses_redis_only_when_configured(redis_url_setting: str | None, expected: Callable) -> None:
    assert isinstance(make_broker(redis_url_setting, "sqlite:///x.db"), expected)


def test_the_namespace_follows_the_database() -> None:
    assert namespace_for("postgresql://db/a") == namespace_for("postgresql://db/a")
    assert namespace_for("postgresql://db/a") != namespace_for("postgresql://db/b")
