"""A lock store chosen by the environment: Redis when REDIS_URL is set, in-memory otherwise.

endpoints.yml cannot branch on an environment variable, and a plain `type: redis` entry fails
when no Redis is configured. This class keeps endpoints.yml static and lets one setting switch
every Rasa process to a shared Redis lock store (required once several Rasa servers run side by side).

Rasa's Redis lock store keeps a ticket until its lifetime ends (60 s), even when the process that
holds it was killed: every later turn of that conversation, on any Rasa server, would wait up to a
minute, and the customer would get "系统繁忙" again and again. Here each ticket records which Rasa
process issued it, every process keeps a short-lived "alive" key in Redis (renewed by a thread), and a
waiting turn drops the tickets of processes whose key has expired. A killed process so blocks its
conversations for at most ALIVE_TTL_SECONDS; a slow but living one keeps its tickets for their lifetime.
Waiting turns look again every WAIT_SECONDS (Rasa's default is 1 s, which every queued turn would add).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockStore, RedisLockStore

logger = logging.getLogger(__name__)

ALIVE_TTL_SECONDS = 3.0
HEARTBEAT_SECONDS = 0.5
WAIT_SECONDS = 0.1
KEY_PREFIX = "csassistant"  # Rasa accepts alphanumeric prefixes only


class ProcessBoundRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store whose tickets die with the process that issued them (module docstring)."""

    def __init__(self, **redis_options: Any) -> None:
        super().__init__(key_prefix=KEY_PREFIX, **redis_options)
        self.instance = uuid.uuid4().hex
        self._beat()
        threading.Thread(target=self._beat_forever, name="lock-store-heartbeat", daemon=True).start()

    def _alive_key(self, instance: str) -> str:
        return f"{self.key_prefix}alive:{instance}"

    def _owners_key(self, conversation_id: str) -> str:
        return f"{self.key_prefix}owners:{conversation_id}"

    def _beat(self) -> None:
        self.red.set(self._alive_key(self.instance), "1", px=int(ALIVE_TTL_SECONDS * 1000))

    def _beat_forever(self) -> None:
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            try:
                self._beat()
            except Exception as error:  # a Redis hiccup must not end the heartbeat
                logger.warning("Lock store heartbeat failed: %s", error)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        ticket = super().issue_ticket(conversation_id, lock_lifetime)
        owners = self._owners_key(conversation_id)
        self.red.hset(owners, str(ticket), self.instance)
        self.red.expire(owners, int(lock_lifetime) + 10)
        return ticket

    def update_lock(self, conversation_id: str) -> None:
        """Rasa's update (drop expired tickets), plus dropping the tickets of processes that are gone."""
        lock = self.get_lock(conversation_id)
        if not lock:
            return
        lock.remove_expired_tickets()
        owners = {int(k): v.decode() for k, v in self.red.hgetall(self._owners_key(conversation_id)).items()}
        for ticket in list(lock.tickets):
            owner = owners.get(ticket.number)
            if owner is not None and owner != self.instance and not self.red.exists(self._alive_key(owner)):
                logger.warning(
                    "Dropping ticket %d of conversation %s: its Rasa process is gone", ticket.number, conversation_id
                )
                lock.tickets.remove(ticket)
                self.red.hdel(self._owners_key(conversation_id), str(ticket.number))
        self.save_lock(lock)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        super().finish_serving(conversation_id, ticket_number)
        self.red.hdel(self._owners_key(conversation_id), str(ticket_number))

    def delete_lock(self, conversation_id: str) -> None:
        super().delete_lock(conversation_id)
        self.red.delete(self._owners_key(conversation_id))


def lock_store_from_redis_url(redis_url: str | None) -> LockStore:
    """Builds a RedisLockStore for `redis://[:password@]host[:port][/db]`, or an in-memory store."""
    if not redis_url:
        return InMemoryLockStore()
    parts = urlsplit(redis_url)
    db = int(parts.path.lstrip("/") or 0)
    return ProcessBoundRedisLockStore(
        host=parts.hostname or "localhost",
        port=parts.port or 6379,
        db=db,
        username=parts.username or None,
        password=parts.password or None,
        use_ssl=parts.scheme == "rediss",
    )


class EnvironmentLockStore(LockStore):
    """Delegates to the lock store that REDIS_URL selects."""

    def __init__(self, endpoint_config: Any = None) -> None:
        self._delegate = lock_store_from_redis_url(os.environ.get("REDIS_URL"))
        logger.info("Lock store: %s", type(self._delegate).__name__)

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = WAIT_SECONDS
    ) -> AsyncIterator[TicketLock]:
        """Rasa only ever calls lock(): the delegate runs the whole ticket protocol with its own rules."""
        async with self._delegate.lock(conversation_id, lock_lifetime, wait_time_in_seconds) as ticket_lock:
            yield ticket_lock

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        return self._delegate.get_lock(conversation_id)

    def delete_lock(self, conversation_id: str) -> None:
        self._delegate.delete_lock(conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        self._delegate.save_lock(lock)
