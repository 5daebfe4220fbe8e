"""bot/lock_store.py runs inside the Rasa server, so it is exercised with the rasa env's interpreter."""

from __future__ import annotations

import uuid

import pytest
import redis

from tests.bot.helpers import run_in_rasa_env

REDIS_URL = "redis://127.0.0.1:6379/3"

PROBE = """
import sys
from bot.lock_store import EnvironmentLockStore
store = EnvironmentLockStore(endpoint_config=None)
delegate = type(store._delegate).__name__
conversation = sys.argv[1]
lock = store.get_or_create_lock(conversation)
lock.issue_ticket(30)
store.save_lock(lock)
again = store.get_lock(conversation)
print(delegate, len(again.tickets) if again else 0)
"""


def run_probe(env_extra: dict[str, str], conversation: str) -> str:
    return run_in_rasa_env(PROBE, conversation, env_extra=env_extra, timeout=120)


def test_without_redis_url_locks_are_in_memory() -> None:
    assert run_probe({"REDIS_URL": ""}, "c-memory") == "InMemoryLockStore 1"


def test_with_redis_url_locks_are_shared_through_redis() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    conversation = f"c-{uuid.uuid4().hex}"
    assert run_probe({"REDIS_URL": REDIS_URL}, conversation) == "RedisLockStore 1"
    # Another process (this one) sees the lock the Rasa-side code saved.
    assert any(conversation in key.decode() for key in client.keys("*"))
    client.delete(*[key for key in client.keys("*") if conversation in key.decode()])
