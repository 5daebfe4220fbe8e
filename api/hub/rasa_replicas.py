"""Spreads conversations over several Rasa processes, each paired with its action server.

Each conversation sticks to one replica, chosen by rendezvous hashing of its Rasa sender id, so a
conversation's turns go to the same process while it is up, and adding or losing a replica moves only
the conversations that were on it. A refused connection means Rasa never saw the message, so it is
safe to hand it to the next replica in that conversation's order; the trackers live in the shared
tracker store and Redis's lock store orders the turns, so any replica can continue a conversation. A
timeout is never retried elsewhere: the first replica may still be answering, and running the turn twice
could book twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from api.hub.rasa_client import BotReply, RasaClient, RasaNotReachedError, RasaUnavailableError

logger = logging.getLogger(__name__)
T = TypeVar("T")


class ActionServerDownError(RasaUnavailableError):
    """Rasa answered, but its action server went down: the answer is empty or Rasa's generic fallback."""


@dataclass(frozen=True)
class RasaReplica:
    name: str
    client: RasaClient
    actions_alive: Callable[[], Awaitable[bool]]


def _weight(sender_id: str, replica: str) -> bytes:
    return hashlib.sha256(f"{sender_id}\0{replica}".encode()).digest()


class RasaReplicas:
    """The hub's way to Rasa: `send()` answers a message from the conversation's replica, or raises."""

    def __init__(self, replicas: Sequence[RasaReplica]) -> None:
        if not replicas:
            raise ValueError("at least one Rasa replica is needed")
        self._replicas = list(replicas)

    def order_for(self, sender_id: str) -> list[RasaReplica]:
        """The replicas in the order this conversation tries them (highest rendezvous weight first)."""
        return sorted(self._replicas, key=lambda replica: _weight(sender_id, replica.name), reverse=True)

    async def send(self, *, sender_id: str, message: str, metadata: dict[str, Any]) -> list[BotReply]:
        passed: list[str] = []
        for replica in self.order_for(sender_id):
            # A Rasa server whose action server is down would answer with nothing or a misleading generic
            # fallback: skip it before it sees the message, while its action server is being restarted.
            if not await replica.actions_alive():
                passed.append(f"{replica.name} (action server down)")
                continue
            try:
                replies = await replica.client.send(sender_id=sender_id, message=message, metadata=metadata)
            except RasaNotReachedError as exc:
                logger.warning("Rasa replica %s refused the connection (%s); trying the next one", replica.name, exc)
                passed.append(f"{replica.name} (refused)")
                continue
            # The action server may also die during the turn: Rasa still answers 200, and that is no answer.
            if not replies or not await replica.actions_alive():
                raise ActionServerDownError(f"no reliable reply from {replica.name} (action server down?)")
            return replies
        raise RasaNotReachedError(f"no Rasa replica could take the message: {', '.join(passed)}")

    async def read(self, sender_id: str, reading: Callable[[RasaClient], Awaitable[T]]) -> T:
        """A read of the conversation's tracker (shared by every replica): its own replica first, then the others."""
        failures: list[str] = []
        for replica in self.order_for(sender_id):
            try:
                return await reading(replica.client)
            except RasaUnavailableError as exc:
                failures.append(f"{replica.name} ({exc})")
        raise RasaUnavailableError(f"no Rasa replica answered: {'; '.join(failures)}")

    async def slots(self, *, sender_id: str) -> dict[str, Any]:
        """The conversation's current slots from its Rasa tracker."""
        return await self.read(sender_id, lambda client: client.slots(sender_id=sender_id))

    async def latest_parse(self, *, sender_id: str) -> dict[str, Any]:
        """What NLU made of the conversation's latest message."""
        return await self.read(sender_id, lambda client: client.latest_parse(sender_id=sender_id))
