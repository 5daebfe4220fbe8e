"""The delivery port: how each channel gets an outbound message to the customer.

Two kinds, registered per channel on the hub:
- connection-bound (web chat websocket): every API process hears every outbound event and pushes the message to
  the sockets it holds for that customer; clients de-duplicate by message id.
- push (WeChat customer-service API, webhooks): exactly one process delivers each message. The event wakes every
  process; each tries to claim the message with a conditional UPDATE (crm.services.message_delivery), one wins,
  delivers, and records the result; failures are retried with back-off by a sweeper, then recorded as failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from api.hub.broker import Broker, Event, topics
from crm.schemas import ConversationOut, MessageOut
from crm.services import conversations, message_delivery

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Delivery(Protocol):
    async def deliver(self, conversation: ConversationOut, message: MessageOut) -> None: ...


@dataclass(frozen=True)
class PushPolicy:
    """Retry rules of push deliveries."""

    max_attempts: int = 5
    backoff: timedelta = timedelta(seconds=2)  # doubled after each failure
    # A claim older than this is considered abandoned (its process died) and is claimed again.
    lease: timedelta = timedelta(seconds=60)


def outbound_event(conversation: ConversationOut, messages: list[MessageOut]) -> Event:
    return {
        "type": "messages",
        "conversation": conversation.model_dump(mode="json"),
        "messages": [message.model_dump(mode="json") for message in messages],
    }


class Deliveries:
    """This process's registered deliveries and the loop that feeds them from the broker."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        broker: Broker,
        policy: PushPolicy | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._broker = broker
        self._policy = policy or PushPolicy()
        self._connection_bound: dict[str, Delivery] = {}
        self._push: dict[str, Delivery] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def register(self, channel: str, delivery: Delivery, *, push: bool) -> None:
        (self._push if push else self._connection_bound)[channel] = delivery
        (self._connection_bound if push else self._push).pop(channel, None)

    def is_push(self, channel: str) -> bool:
        return channel in self._push

    @property
    def push_channels(self) -> list[str]:
        return sorted(self._push)

    async def run(self, ready: asyncio.Event) -> None:
        """Feeds every outbound event of every process to this process's deliveries."""
        async with self._broker.subscribe(topics.OUTBOUND) as events:
            ready.set()
            async for event in events:
                try:
                    await self.dispatch(event)
                except Exception:
                    logger.exception("dispatching an outbound event failed")

    async def dispatch(self, event: Event) -> None:
        if event.get("type") != "messages":
            return
        channel = event["conversation"]["channel"]
        if channel not in self._connection_bound and channel not in self._push:
            return
        conversation = ConversationOut.model_validate(event["conversation"])
        messages = [MessageOut.model_validate(item) for item in event["messages"]]
        connection_bound = self._connection_bound.get(conversation.channel)
        if connection_bound is not None:
            for message in messages:
                await self._deliver_safely(connection_bound, conversation, message)
        if conversation.channel in self._push:
            for message in messages:
                if message.delivery_state == "pending":
                    await self.deliver_push(conversation, message)

    async def deliver_push(self, conversation: ConversationOut, message: MessageOut) -> bool:
        """Claims and delivers one push message; False when another process holds it (or it is not due)."""
        claimed = await self._in_session(message_delivery.claim, message_id=message.id, lease=self._policy.lease)
        if not claimed:
            return False
        delivery = self._push[conversation.channel]
        try:
            await delivery.deliver(conversation, message)
        except Exception as exc:
            state = await self._in_session(
                message_delivery.mark_failed_attempt,
                message_id=message.id,
                error=f"{type(exc).__name__}: {exc}",
                max_attempts=self._policy.max_attempts,
                backoff=self._policy.backoff,
            )
            log = logger.error if state == "failed" else logger.warning
            log("push delivery of message %s on %s failed (%s): %s", message.id, conversation.channel, state, exc)
            return True
        await self._in_session(message_delivery.mark_delivered, message_id=message.id)
        return True

    async def sweep(self) -> int:
        """Retries due push deliveries (failed attempts, abandoned claims); returns how many were attempted."""
        channels = self.push_channels
        if not channels:
            return 0
        due = await self._in_session(message_delivery.due, channels=channels)
        attempted = 0
        for message_id in due:
            found = await self._in_session(conversations.load_message, message_id=message_id)
            if found is not None and await self.deliver_push(*found):
                attempted += 1
        return attempted

    async def _deliver_safely(self, delivery: Delivery, conversation: ConversationOut, message: MessageOut) -> None:
        try:
            await delivery.deliver(conversation, message)
        except Exception:
            logger.exception("delivery of message %s on %s failed", message.id, conversation.channel)

    async def _in_session(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        def work() -> T:
            with self._session_factory.begin() as session:
                return fn(session, **kwargs)

        return await asyncio.to_thread(work)

    def spawn(self, coroutine: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
