"""A lock store chosen by the environment: Redis when REDIS_URL is set, in-memory otherwise.

endpoints.yml cannot branch on an environment variable, and a plain `type: redis` entry fails
when no Redis is configured. This class keeps endpoints.yml static and lets one setting switch
every Rasa process to a shared Redis lock store (required once several Rasa servers run side by side).
"""

from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlsplit

from rasa.core.lock import TicketLock
from rasa.core.lock_store import InMemoryLockStore, LockStore, RedisLockStore

logger = logging.getLogger(__name__)


def lock_store_from_redis_url(redis_url: str | None) -> LockStore:
    """Builds a RedisLockStore for `redis://[:password@]host[:port][/db]`, or an in-memory store."""
    if not redis_url:
        return InMemoryLockStore()
    parts = urlsplit(redis_url)
    db = int(parts.path.lstrip("/") or 0)
    return RedisLockStore(
        host=parts.hostname or "localhost",
        port=parts.port or 6379,
        db=db,
        username=parts.username or None,
        password=parts.password or None,
        use_ssl=parts.scheme == "rediss",
        key_prefix="cs_assistant",
    )


class EnvironmentLockStore(LockStore):
    """Delegates to the lock store that REDIS_URL selects."""

    def __init__(self, endpoint_config: Any = None) -> None:
        self._delegate = lock_store_from_redis_url(os.environ.get("REDIS_URL"))
        logger.info("Lock store: %s", type(self._delegate).__name__)

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        return self._delegate.get_lock(conversation_id)

    def delete_lock(self, conversation_id: str) -> None:
        self._delegate.delete_lock(conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        self._delegate.save_lock(lock)
