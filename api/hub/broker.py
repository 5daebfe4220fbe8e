"""Publish/subscribe of hub events between the API processes.

Events are small JSON objects on named topics (see `topics`). `InProcessBroker` serves one process (no REDIS_URL);
`RedisBroker` uses Redis pub/sub, so an agent's reply published by one API process reaches the customer's
websocket held by another. Pub/sub is fire-and-forget: whoever must not lose a message reads it from the
transcript (websocket catch-up by last-seen id, the push-delivery sweeper); events only say "look now".
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import redis.asyncio as redis

logger = logging.getLogger(__name__)

Event = dict[str, Any]
# Events waiting for a slow subscriber; beyond this the oldest are dropped (and logged).
SUBSCRIBER_BUFFER = 1000
REDIS_PREFIX = "cs:hub:"
REDIS_READ_TIMEOUT_SECONDS = 1.0


class topics:
    """Topic names every publisher and subscriber agree on."""

    # Every outbound message (bot, agent, system) for the channels' deliveries, in every process.
    OUTBOUND = "outbound"
    # Queue and console changes: messages in conversations held by the queue or an agent, owner changes.
    CONSOLE = "console"

    @staticmethod
    def conversation(conversation_id: int) -> str:
        """Everything said in one conversation, both directions (the agent console's live transcript)."""
        return f"conversation:{conversation_id}"


class Subscription:
    """Events of one topic for one subscriber, in publication order; iterate with `async for`."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self._queue: asyncio.Queue[Event] = asyncio.Queue(SUBSCRIBER_BUFFER)

    def put(self, event: Event) -> None:
        if self._queue.full():
            dropped = self._queue.get_nowait()
            logger.warning("subscriber of %s too slow: dropped %s", self.topic, dropped.get("type"))
        self._queue.put_nowait(event)

    async def get(self, timeout: float | None = None) -> Event:
        return await asyncio.wait_for(self._queue.get(), timeout)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self._queue.get()


class Broker(Protocol):
    async def publish(self, topic: str, event: Event) -> None: ...

    def subscribe(self, topic: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Subscribed once entered: every event published afterwards (by any process) arrives."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class _LocalFanOut:
    """topic → this process's subscriptions."""

    def __init__(self) -> None:
        self.subscriptions: dict[str, set[Subscription]] = defaultdict(set)

    def deliver(self, topic: str, event: Event) -> None:
        for subscription in list(self.subscriptions.get(topic, ())):
            subscription.put(event)

    def add(self, subscription: Subscription) -> bool:
        """True when this is the topic's first local subscriber."""
        first = not self.subscriptions.get(subscription.topic)
        self.subscriptions[subscription.topic].add(subscription)
        return first

    def remove(self, subscription: Subscription) -> bool:
        """True when the topic has no local subscriber left."""
        remaining = self.subscriptions.get(subscription.topic)
        if remaining is None:
            return False
        remaining.discard(subscription)
        if remaining:
            return False
        del self.subscriptions[subscription.topic]
        return True


class InProcessBroker:
    """One process: publish hands the event to this process's subscribers."""

    def __init__(self) -> None:
        self._local = _LocalFanOut()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, topic: str, event: Event) -> None:
        if self._local.subscriptions.get(topic):
            # A JSON round trip, like Redis: subscribers never share (or mutate) the publisher's objects.
            self._local.deliver(topic, json.loads(json.dumps(event)))

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(topic)
        self._local.add(subscription)
        try:
            yield subscription
        finally:
            self._local.remove(subscription)


class RedisBroker:
    """Redis pub/sub: one connection per process for every subscription, fanned out locally."""

    def __init__(self, url: str, namespace: str) -> None:
        # Processes share events only within a namespace: the hub derives it from the CRM database, so two
        # deployments (or test stacks) on one Redis never see each other's conversations.
        self._prefix = f"{REDIS_PREFIX}{namespace}:"
        self._client = redis.Redis.from_url(url)
        self._pubsub = self._client.pubsub()
        self._local = _LocalFanOut()
        self._confirmed: dict[str, asyncio.Event] = {}
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # An always-on subscription: redis-py's reader needs at least one channel to read from.
        await self._subscribe_remote("broker:alive")
        self._reader = asyncio.create_task(self._read(), name="redis-broker-reader")
        await self._wait_confirmed("broker:alive")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._client.aclose()

    async def publish(self, topic: str, event: Event) -> None:
        await self._client.publish(self._prefix + topic, json.dumps(event, separators=(",", ":")))

    @asynccontextmanager
    async def subscribe(self, topic: str) -> AsyncIterator[Subscription]:
        subscription = Subscription(topic)
        async with self._lock:
            if self._local.add(subscription):
                await self._subscribe_remote(topic)
        try:
            await self._wait_confirmed(topic)
            yield subscription
        finally:
            async with self._lock:
                if self._local.remove(subscription):
                    self._confirmed.pop(topic, None)
                    await self._pubsub.unsubscribe(self._prefix + topic)

    async def _subscribe_remote(self, topic: str) -> None:
        self._confirmed[topic] = asyncio.Event()
        await self._pubsub.subscribe(self._prefix + topic)

    async def _wait_confirmed(self, topic: str) -> None:
        # Redis acknowledges SUBSCRIBE on the same connection; only then is no later publication missed.
        confirmed = self._confirmed.get(topic)
        if confirmed is not None:
            await asyncio.wait_for(confirmed.wait(), timeout=10.0)

    async def _read(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=REDIS_READ_TIMEOUT_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception:
                # redis-py reconnects and re-subscribes on the next read; events published meanwhile are lost,
                # which the transcript-based catch-up and the delivery sweeper make up for.
                logger.exception("Redis pub/sub read failed; retrying")
                await asyncio.sleep(REDIS_READ_TIMEOUT_SECONDS)
                continue
            if message is None:
                continue
            channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            topic = channel.removeprefix(self._prefix)
            if message["type"] == "subscribe":
                confirmed = self._confirmed.get(topic)
                if confirmed is not None:
                    confirmed.set()
            elif message["type"] == "message":
                try:
                    event = json.loads(message["data"])
                except ValueError:
                    logger.warning("ignored a malformed event on %s", channel)
                    continue
                self._local.deliver(topic, event)


def namespace_for(database_url: str) -> str:
    """The broker namespace of every process working on this CRM database."""
    return hashlib.sha256(database_url.encode()).hexdigest()[:16]


def make_broker(redis_url: str | None, database_url: str) -> Broker:
    """Redis pub/sub when REDIS_URL is set, otherwise this process only."""
    return RedisBroker(redis_url, namespace_for(database_url)) if redis_url else InProcessBroker()
