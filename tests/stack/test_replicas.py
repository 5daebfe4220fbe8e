"""Two of everything on PostgreSQL + Redis (REPLICAS=2), under the supervisor, as `make run` starts it.

Conversations spread over both Rasa servers and keep their order and context; a retried confirmation
books once whichever API worker takes each attempt; `kill -9` of a Rasa server, an action server or an
API worker costs a customer at most one polite "请稍后" and nothing else.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import func, select

from api.hub.rasa_client import RasaClient
from api.hub.rasa_replicas import RasaReplica, RasaReplicas
from api.texts import text as hub_text
from bench.soak import SoakLoad, SoakPlan, run_soak_load, stored_inbound, summarise
from bench.soak import scripts as soak_scripts
from crm.models import Booking, Conversation, Message
from stack.ephemeral import EphemeralStack, start_ephemeral_stack
from stack.supervisor import Backoff
from tests.crm.conftest import DatabaseFactory
from tests.e2e.test_bookings import BOOKING_NUMBER, buttons_of, fresh_mobile, text_of

# A Redis database of its own: other tests' brokers use theirs, and conversation ids would collide.
REDIS_URL = os.environ.get("REPLICAS_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")
BUSY = hub_text("system_busy")


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory, rasa_model: Path) -> Iterator[EphemeralStack]:
    try:
        redis.Redis.from_url(REDIS_URL).flushdb()
    except redis.ConnectionError as error:
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {error}")
    workdir = tmp_path_factory.mktemp("replicas")
    databases = DatabaseFactory("postgresql", workdir)  # skips when PostgreSQL is down
    stack = start_ephemeral_stack(
        workdir,
        rasa_model,
        supervised=True,
        backoff=Backoff(first_seconds=0.5),
        replicas=2,
        database_url=databases.create(migrate=False),
        tracker_database_url="",  # Rasa's trackers in the same PostgreSQL database, shared by both servers
        redis_url=REDIS_URL,
    )
    try:
        yield stack
    finally:
        stack.stop()
        databases.drop_all()


def say(stack: EphemeralStack, user: str, text: str, client_message_id: str | None = None) -> dict:
    body = {"user_id": user, "text": text, "client_message_id": client_message_id}
    response = httpx.post(f"{stack.api_url}/api/widget/messages", json=body, timeout=30, trust_env=False)
    assert response.status_code == 200, response.text
    return response.json()


def home_replica(stack: EphemeralStack, conversation_id: int) -> str:
    """The Rasa URL the hub sends this conversation to (same hashing, same names)."""
    with stack.session_factory() as session:
        sender = session.get_one(Conversation, conversation_id).rasa_sender_id
    http = httpx.AsyncClient()
    pool = RasaReplicas([RasaReplica(url, RasaClient(http, url, 1.0), _never) for url in stack.settings.rasa_urls])
    return pool.order_for(sender)[0].name


async def _never() -> bool:  # pragma: no cover - order_for never asks
    raise AssertionError


def rasa_service_of(stack: EphemeralStack, rasa_url: str) -> str:
    return f"rasa-{stack.settings.rasa_urls.index(rasa_url) + 1}"


def wait_until_restarted(stack: EphemeralStack, name: str, timeout: float = 300.0) -> None:
    assert stack.supervisor is not None
    deadline = time.monotonic() + timeout
    while not (stack.supervisor.service(name).restarts >= 1 and stack.supervisor.all_ready()):
        assert time.monotonic() < deadline, (stack.supervisor.status(), stack.events[-10:])
        time.sleep(0.3)


def test_conversations_spread_over_both_rasa_servers_in_order(replicated: EphemeralStack) -> None:
    users = [f"rep-{uuid.uuid4().hex[:8]}" for _ in range(10)]
    turns = ["你好", "你们几点营业", "谢谢"]

    def chat(user: str) -> list[dict]:
        return [say(replicated, user, text, client_message_id=f"{user}-{n}") for n, text in enumerate(turns)]

    with ThreadPoolExecutor(max_workers=5) as pool:
        results = dict(zip(users, pool.map(chat, users), strict=True))
    for user, answers in results.items():
        assert all(answer["replies"] and BUSY not in text_of(answer) for answer in answers), (user, answers)
    conversations = {user: {answer["conversation_id"] for answer in answers} for user, answers in results.items()}
    assert all(len(ids) == 1 for ids in conversations.values()), conversations
    homes = Counter(home_replica(replicated, next(iter(ids))) for ids in conversations.values())
    assert set(homes) == set(replicated.settings.rasa_urls), homes

    with replicated.session_factory() as session:
        for user, ids in conversations.items():
            texts = session.scalars(
                select(Message.text)
                .where(Message.conversation_id == next(iter(ids)), Message.sender == "customer")
                .order_by(Message.id)
            ).all()
            assert list(texts) == turns, (user, texts)  # each once, in the order typed


def test_a_retried_confirmation_books_once_across_api_workers(replicated: EphemeralStack) -> None:
    user, mobile, plate = f"rep-book-{uuid.uuid4().hex[:6]}", fresh_mobile(), f"贵A{random.randint(10000, 99999)}"
    closed = say(replicated, user, "我想约明天晚上十点去花果园店洗车")
    say(replicated, user, buttons_of(closed)[0]["title"])
    say(replicated, user, plate)
    say(replicated, user, mobile)
    summary = say(replicated, user, "我姓李")
    assert "确认" in text_of(summary), text_of(summary)
    confirm_id = f"confirm-{uuid.uuid4().hex}"
    with ThreadPoolExecutor(max_workers=4) as pool:  # four attempts at once: the kernel spreads them over workers
        attempts = list(pool.map(lambda _: say(replicated, user, "确认", client_message_id=confirm_id), range(4)))
    numbers = {number for attempt in attempts for number in BOOKING_NUMBER.findall(text_of(attempt))}
    assert len(numbers) == 1, [text_of(a) for a in attempts]
    with replicated.session_factory() as session:
        count = session.scalar(select(func.count()).select_from(Booking).where(Booking.plate_number == plate))
    assert count == 1


@pytest.mark.parametrize("victim", ["rasa", "actions"])
def test_killing_a_conversations_rasa_or_action_server_costs_at_most_one_retry(
    replicated: EphemeralStack, victim: str
) -> None:
    user = f"rep-kill-{victim}-{uuid.uuid4().hex[:6]}"
    asked = say(replicated, user, "我想约明天下午三点去花果园店洗车")
    assert "车牌" in text_of(asked), text_of(asked)
    service = rasa_service_of(replicated, home_replica(replicated, asked["conversation_id"]))
    if victim == "actions":
        service = service.replace("rasa", "actions")
    os.kill(replicated.pid(service), signal.SIGKILL)

    # The form goes on where it was: the tracker is shared, so the other Rasa server (or the restarted
    # action server) continues it. One polite "please retry" is the most the customer may see.
    busy = 0
    plate = f"贵A{random.randint(10000, 99999)}"
    for _ in range(2):
        answer = text_of(say(replicated, user, plate))
        if BUSY in answer:
            busy += 1
            time.sleep(2)
            continue
        assert "手机号" in answer, answer
        break
    else:
        raise AssertionError(f"still busy after a retry ({victim} killed)")
    assert busy <= 1
    # The answer may come from the other pair before the supervisor's next poll has seen the exit.
    wait_until_restarted(replicated, service)


def test_a_killed_api_worker_is_replaced_and_the_others_keep_answering(replicated: EphemeralStack) -> None:
    api_pid = replicated.pid("api")
    workers = _children(api_pid)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    user = f"rep-worker-{uuid.uuid4().hex[:6]}"
    for n in range(6):
        assert say(replicated, user, "你们几点营业", client_message_id=f"{user}-{n}")["replies"]
    deadline = time.monotonic() + 120
    while len(_children(api_pid)) < 2 or workers[0] in _children(api_pid):
        assert time.monotonic() < deadline, "uvicorn did not replace its dead worker"
        time.sleep(0.5)


def _children(pid: int) -> list[int]:
    """uvicorn's live worker processes (multiprocessing's resource tracker is a child too, not a worker)."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in command:
            workers.append(int(entry.name))
    return sorted(workers)


def bot_replies_to(stack: EphemeralStack, client_message_id: str) -> list[str]:
    """The texts stored as answers to one customer message (including any delivered later)."""
    with stack.session_factory() as session:
        inbound = session.scalars(select(Message.id).where(Message.client_message_id == client_message_id)).one()
        return list(session.scalars(select(Message.text).where(Message.reply_to_id == inbound).order_by(Message.id)))


def test_a_paused_rasa_server_costs_one_busy_notice_and_its_answer_follows(replicated: EphemeralStack) -> None:
    user = f"rep-pause-{uuid.uuid4().hex[:6]}"
    first = say(replicated, user, "你好")
    # Both are paused: the hub passes over a replica whose action server does not answer its probe in time
    # (a loaded machine), so with one paused the message could land on the other and never wait at all.
    pids = [replicated.pid(rasa_service_of(replicated, url)) for url in replicated.settings.rasa_urls]
    paused_id = f"{user}-paused"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)  # connections still open (the kernel queues them); nothing answers
    try:
        answer = say(replicated, user, "你们几点营业", client_message_id=paused_id)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    assert BUSY in text_of(answer), text_of(answer)

    # The paused server saw the message, so it is not replayed: its answer, once it comes, is delivered.
    deadline = time.monotonic() + 30
    while not [text for text in bot_replies_to(replicated, paused_id) if BUSY not in text]:
        assert time.monotonic() < deadline, bot_replies_to(replicated, paused_id)
        time.sleep(0.5)
    after = say(replicated, user, "谢谢", client_message_id=f"{user}-after")
    assert after["replies"] and BUSY not in text_of(after), text_of(after)
    with replicated.session_factory() as session:
        texts = session.scalars(
            select(Message.text)
            .where(Message.conversation_id == first["conversation_id"], Message.sender == "customer")
            .order_by(Message.id)
        ).all()
    assert list(texts) == ["你好", "你们几点营业", "谢谢"]


def test_a_paused_action_server_at_the_confirmation_books_only_what_the_customer_was_told(
    replicated: EphemeralStack,
) -> None:
    """Whether the hub moves the confirmation to the other pair (booked, told so) or Rasa gives up on the
    paused action server (busy notice), the CRM holds exactly what the customer heard, also after the paused
    server wakes up and reads the stale call; a retried confirmation then books once."""
    user, mobile, plate = f"rep-pause-book-{uuid.uuid4().hex[:6]}", fresh_mobile(), f"贵A{random.randint(10000, 99999)}"
    closed = say(replicated, user, "我想约明天晚上十点去花果园店洗车")
    service = rasa_service_of(replicated, home_replica(replicated, closed["conversation_id"]))
    pid = replicated.pid(service.replace("rasa", "actions"))
    say(replicated, user, buttons_of(closed)[0]["title"])
    say(replicated, user, plate)
    say(replicated, user, mobile)
    summary = say(replicated, user, "我姓李")
    assert "确认" in text_of(summary), text_of(summary)

    os.kill(pid, signal.SIGSTOP)
    try:
        answer = text_of(say(replicated, user, "确认", client_message_id=f"{user}-confirm"))
    finally:
        time.sleep(1)
        os.kill(pid, signal.SIGCONT)
    time.sleep(3)  # the woken action server has read whatever call was waiting for it

    def bookings() -> int:
        with replicated.session_factory() as session:
            return session.scalar(select(func.count()).select_from(Booking).where(Booking.plate_number == plate)) or 0

    told = BOOKING_NUMBER.findall(answer)
    assert bookings() == (1 if told else 0), answer
    if not told:
        assert BUSY in answer, answer
        retried = text_of(say(replicated, user, "确认", client_message_id=f"{user}-confirm-again"))
        assert BOOKING_NUMBER.findall(retried), retried
    assert bookings() == 1


def test_a_short_soak_loses_duplicates_and_reorders_nothing(replicated: EphemeralStack) -> None:
    """`make bench` runs the long one (30 customers, 10 minutes); here 10 customers for 20 s. No timing asserted."""
    plan = SoakPlan(customers=10, minutes=1 / 3, think_seconds=2.0, seed=11)
    slots, warmup = soak_scripts(replicated, plan)
    load = asyncio.run(run_soak_load(replicated.api_url, slots, warmup[:1], plan.minutes, SoakLoad()))
    summary = summarise(load, stored_inbound(replicated, [v.user_id for visitors in slots for v in visitors]), plan)
    assert summary["messages"] >= 40, summary
    # Busy notices are a matter of speed on a loaded machine (timings are for `make bench`), not of correctness.
    faults = ("errors", "lost", "duplicated", "reordered_conversations", "reply_mismatches")
    assert {name: summary[name] for name in faults} == dict.fromkeys(faults, 0), summary
