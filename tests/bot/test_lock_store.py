"""bot/lock_store.py runs inside the Rasa server, so it is exercised with the rasa env's interpreter."""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator

import pytest
import redis

from core.settings import PROJECT_ROOT
from stack.model import rasa_env
from stack.paths import RASA_BIN
from tests.bot.helpers import run_in_rasa_env

# bot/lock_store.py's heartbeat expiry; a constant here because importing bot/ needs the rasa env.
ALIVE_TTL_SECONDS = 3.0

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


def test_with_redis_url_locks_are_shared_through_redis(conversation: str) -> None:
    assert run_probe({"REDIS_URL": REDIS_URL}, conversation) == "ProcessBoundRedisLockStore 1"
    # Another process (this one) sees the lock the Rasa-side code saved.
    assert any(conversation in key.decode() for key in redis.Redis.from_url(REDIS_URL).keys("*"))


HOLDER = """
import asyncio, sys, time
from bot.lock_store import EnvironmentLockStore
store = EnvironmentLockStore(endpoint_config=None)
async def hold():
    async with store.lock(sys.argv[1]):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
    print("released", flush=True)
asyncio.run(hold())
"""

WAITER = """
import asyncio, sys, time
from bot.lock_store import EnvironmentLockStore
store = EnvironmentLockStore(endpoint_config=None)
async def wait():
    started = time.monotonic()
    async with store.lock(sys.argv[1]):
        print(f"acquired after {time.monotonic() - started:.2f}")
asyncio.run(wait())
"""


def start_holder(conversation: str, hold_seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [str(RASA_BIN / "python"), "-c", HOLDER, conversation, str(hold_seconds)],
        cwd=PROJECT_ROOT,
        env={**rasa_env(), "REDIS_URL": REDIS_URL},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def waited_seconds(conversation: str) -> float:
    line = run_in_rasa_env(WAITER, conversation, env_extra={"REDIS_URL": REDIS_URL}, timeout=120)
    return float(line.removeprefix("acquired after "))


@pytest.fixture
def conversation() -> Iterator[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    name = f"c-{uuid.uuid4().hex}"
    yield name
    client.delete(*[key for key in client.keys("*") if name in key.decode()] or ["-"])


def test_a_killed_rasa_process_blocks_its_conversation_for_seconds_not_the_ticket_lifetime(conversation: str) -> None:
    holder = start_holder(conversation, hold_seconds=600)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    # Rasa's own store would wait for the ticket's 60 s lifetime; the heartbeat expires in ALIVE_TTL_SECONDS.
    assert waited_seconds(conversation) < ALIVE_TTL_SECONDS + 2


def test_a_living_process_keeps_its_ticket_while_it_works(conversation: str) -> None:
    holder = start_holder(conversation, hold_seconds=ALIVE_TTL_SECONDS + 10)
    try:
        waited = waited_seconds(conversation)
    finally:
        holder.wait(timeout=30)
    # Started after the holder had the lock, the waiter gets it only once the holder is done with it.
    assert waited > ALIVE_TTL_SECONDS + 1
    assert holder.stdout is not None and holder.stdout.read().strip() == "released"
