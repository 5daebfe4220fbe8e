"""Soak: the replicated stack (2 API workers, 2 Rasa, 2 action servers on PostgreSQL + Redis) under a long load.

Customers chat through the web widget endpoint for a fixed wall time (default 30 at once x 10 minutes),
each with a think time between a reply and their next message; after a visit of 12 turns a new visitor
takes the customer's place, so 30 conversations are going on at every moment. Afterwards the CRM is read back: every
message a customer sent must be stored exactly once, in the order sent, with the replies the customer
received stored as answers to it. Reported per minute too, so drift (a leak, a growing queue) shows.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import select

from api.channels.widget import ANONYMOUS_PREFIX
from api.texts import text as hub_text
from bench.live import orders_with_owner_mobiles
from bench.memory import cpu_during, peak_memory_mib
from bench.scripts import Customer, build_customers, load_scenarios
from bench.stats import latency_summary, percentile
from crm.models import Conversation, Message
from stack.ephemeral import EphemeralStack, start_ephemeral_stack
from stack.supervisor import Backoff
from stack.throwaway_db import PostgresUnreachable, ThrowawayPostgres

# A Redis database of its own (flushed at the start): the tests' brokers use others.
SOAK_REDIS_URL = os.environ.get("BENCH_SOAK_REDIS_URL", "redis://127.0.0.1:6379/9")
REPLICAS = 2
# A customer on a phone reads the reply and types a Chinese sentence: 5 s on average (2.5-7.5 s) is
# still quicker than people type; the chat load of the single stack (bench/run.py) uses 2 s.
DEFAULT_THINK_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 30.0
WARMUP_CUSTOMERS, WARMUP_TURNS = 4, 4
RETRY_DELAYS_SECONDS = (1.0, 2.0, 4.0)  # the widget's outbox: RECONNECT_MIN_MS doubled up to three times
logger = logging.getLogger("bench.soak")


@dataclass(frozen=True)
class SoakPlan:
    customers: int = 30
    minutes: float = 10.0
    think_seconds: float = DEFAULT_THINK_SECONDS
    seed: int = 7
    kill: str | None = None  # a service (e.g. "rasa-1") killed with SIGKILL halfway through
    visit_turns: int = 12  # turns of one visitor's conversation before a new visitor takes the slot


@dataclass
class Sent:
    """One message as the customer experienced it."""

    user_id: str
    client_message_id: str
    at: float  # seconds since the load started
    seconds: float
    ok: bool
    replies: int
    busy: bool  # the hub's "系统繁忙…" notice instead of an answer
    failures: list[str] = field(default_factory=list)  # failed attempts (the widget resends, see Outcome)


@dataclass
class SoakLoad:
    sent: list[Sent] = field(default_factory=list)
    wall_seconds: float = 0.0
    measuring: asyncio.Event = field(default_factory=asyncio.Event)  # set when the warm-up is over


def scripts(stack: EphemeralStack, plan: SoakPlan) -> tuple[list[list[Customer]], list[Customer]]:
    """Per concurrent customer slot, the visitors who take it one after another, each for one visit of
    `plan.visit_turns` turns, with enough visits for the whole duration (the load stops at the deadline);
    plus a few warm-up customers that chat back to back before it (not measured; their ids hash to both
    Rasa servers, so both have answered before the clock starts).

    A visit is one conversation of the length people have with customer service; a fresh visitor then
    takes the slot, so there are `plan.customers` conversations going on at every moment. Anonymous only:
    a demo identity is one conversation for every browser that uses it, so visitors sharing one would share
    a transcript and the order check would mean nothing.
    """
    fastest_turn = 0.5 * plan.think_seconds if plan.think_seconds > 0 else 0.05
    visits = math.ceil((plan.minutes * 60 / fastest_turn + 5) / plan.visit_turns)
    scenarios, orders = load_scenarios(), orders_with_owner_mobiles(stack.session_factory)
    run_id = f"soak-{uuid.uuid4().hex[:6]}"
    visitors = build_customers(
        scenarios,
        orders,
        customers=plan.customers * visits,
        turns=plan.visit_turns,
        seed=plan.seed,
        run_id=run_id,
        think_mean=plan.think_seconds,
    )
    slots = [visitors[slot :: plan.customers] for slot in range(plan.customers)]
    warmup = build_customers(
        scenarios, orders, customers=WARMUP_CUSTOMERS, turns=WARMUP_TURNS, seed=plan.seed + 1, run_id=f"{run_id}-warm"
    )
    return slots, warmup


async def _slot(
    client: httpx.AsyncClient, api_url: str, visitors: list[Customer], started: float, deadline: float, load: SoakLoad
) -> None:
    """The visitors of one slot, one after another (each arrives its start delay after the previous left)."""
    for visitor in visitors:
        if time.perf_counter() >= deadline:
            return
        await _customer(client, api_url, visitor, started, deadline, load)


@dataclass(frozen=True)
class Outcome:
    replies: list[str]
    failures: list[str]  # why each failed attempt failed: "HTTP 503", "ReadTimeout", …
    delivered: bool


async def _send_like_the_widget(client: httpx.AsyncClient, api_url: str, body: dict[str, Any]) -> Outcome:
    """The widget's outbox resends the same client message id after 1, 2, 4 s when the answer is a 5xx,
    408 or 429 or the network failed (api/static/widget/widget.js); a 4xx is final."""
    failures: list[str] = []
    for delay in (*RETRY_DELAYS_SECONDS, None):
        try:
            response = await client.post(f"{api_url}/api/widget/messages", json=body)
            if response.status_code < 500 and response.status_code not in (408, 429):
                response.raise_for_status()
                return Outcome([str(reply.get("text") or "") for reply in response.json()["replies"]], failures, True)
            failures.append(f"HTTP {response.status_code}")
        except httpx.HTTPStatusError as failed:
            return Outcome([], [*failures, f"HTTP {failed.response.status_code}"], False)
        except (httpx.HTTPError, ValueError, KeyError) as failed:
            failures.append(type(failed).__name__)
        if delay is None:
            return Outcome([], failures, False)
        await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def _customer(
    client: httpx.AsyncClient, api_url: str, customer: Customer, started: float, deadline: float, load: SoakLoad
) -> None:
    busy_text = hub_text("system_busy")
    await asyncio.sleep(customer.start_delay)
    for turn in customer.turns:
        if time.perf_counter() >= deadline:
            return
        message_id = uuid.uuid4().hex
        body = {"user_id": customer.user_id, "text": turn.text, "client_message_id": message_id}
        sent_at = time.perf_counter()
        outcome = await _send_like_the_widget(client, api_url, body)
        load.sent.append(
            Sent(
                customer.user_id,
                message_id,
                sent_at - started,
                time.perf_counter() - sent_at,
                outcome.delivered,
                len(outcome.replies),
                any(busy_text in reply for reply in outcome.replies),
                outcome.failures,
            )
        )
        await asyncio.sleep(turn.think_after)


async def run_soak_load(
    api_url: str, slots: list[list[Customer]], warmup: list[Customer], minutes: float, load: SoakLoad
) -> SoakLoad:
    """Warm-up customers one after another (not measured), then every slot's visitors until the deadline."""
    limits = httpx.Limits(max_connections=len(slots) + 4, max_keepalive_connections=len(slots) + 4)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_SECONDS, limits=limits, trust_env=False) as client:
        for customer in warmup:
            await _customer(client, api_url, customer, time.perf_counter(), math.inf, SoakLoad())
        started = time.perf_counter()
        deadline = started + minutes * 60
        load.measuring.set()
        await asyncio.gather(*(_slot(client, api_url, visitors, started, deadline, load) for visitors in slots))
        load.wall_seconds = time.perf_counter() - started
    return load


@dataclass(frozen=True)
class StoredInbound:
    user_id: str
    client_message_id: str
    replies: int


def stored_inbound(stack: EphemeralStack, user_ids: list[str]) -> list[StoredInbound]:
    """Every customer message of these anonymous visitors, in the order the CRM stored it, with its replies."""
    channel_user_ids = {ANONYMOUS_PREFIX + user_id: user_id for user_id in user_ids}
    with stack.session_factory() as session:
        inbound = session.execute(
            select(Conversation.channel_user_id, Message.id, Message.client_message_id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.channel_user_id.in_(channel_user_ids), Message.direction == "in")
            .order_by(Message.id)
        ).all()
        replies: dict[int, int] = defaultdict(int)
        for (reply_to,) in session.execute(
            select(Message.reply_to_id).where(Message.reply_to_id.in_([row.id for row in inbound]))
        ):
            replies[reply_to] += 1
    return [
        StoredInbound(channel_user_ids[row.channel_user_id], row.client_message_id or "", replies[row.id])
        for row in inbound
    ]


def _replies_differ(message: Sent, stored_replies: int) -> bool:
    """After a busy notice the real answer comes later through the outbound path, stored as a further reply."""
    return stored_replies < message.replies if message.busy else stored_replies != message.replies


def integrity(sent: list[Sent], stored: list[StoredInbound]) -> dict[str, int]:
    """Lost, duplicated and reordered customer messages; replies the customer got that the CRM lacks (or more).

    A message whose request failed may or may not have been stored, so it counts for neither lost nor
    reply mismatches; it is an error already.
    """
    stored_by_user: dict[str, list[StoredInbound]] = defaultdict(list)
    for row in stored:
        stored_by_user[row.user_id].append(row)
    sent_by_user: dict[str, list[Sent]] = defaultdict(list)
    for message in sent:
        sent_by_user[message.user_id].append(message)
    counts = {"lost": 0, "duplicated": 0, "reordered_conversations": 0, "reply_mismatches": 0}
    for user_id, mine in sent_by_user.items():
        rows = stored_by_user[user_id]
        times_stored: dict[str, int] = defaultdict(int)
        for row in rows:
            times_stored[row.client_message_id] += 1
        replies = {row.client_message_id: row.replies for row in rows}
        counts["duplicated"] += sum(n - 1 for n in times_stored.values() if n > 1)
        counts["lost"] += sum(1 for s in mine if s.ok and s.client_message_id not in times_stored)
        stored_order = list(dict.fromkeys(row.client_message_id for row in rows))
        sent_order = [s.client_message_id for s in mine if s.client_message_id in times_stored]
        counts["reordered_conversations"] += int(stored_order != sent_order)
        counts["reply_mismatches"] += sum(
            1
            for s in mine
            if s.ok and s.client_message_id in replies and _replies_differ(s, replies[s.client_message_id])
        )
    return counts


def per_minute(sent: list[Sent]) -> list[dict[str, Any]]:
    """Messages, errors and p50/p99 (None without an answered message) in each minute of the load."""
    minutes: dict[int, list[Sent]] = defaultdict(list)
    for s in sent:
        minutes[int(s.at // 60)].append(s)
    result = []
    for minute, rows in sorted(minutes.items()):
        answered = [s.seconds for s in rows if s.ok]
        result.append(
            {
                "minute": minute + 1,
                "messages": len(rows),
                "errors": len(rows) - len(answered),
                "p50": percentile(answered, 50) if answered else None,
                "p99": percentile(answered, 99) if answered else None,
            }
        )
    return result


def summarise(load: SoakLoad, stored: list[StoredInbound], plan: SoakPlan) -> dict[str, Any]:
    ok = [s.seconds for s in load.sent if s.ok]
    return {
        "customers": plan.customers,
        "minutes": plan.minutes,
        "think_seconds": plan.think_seconds,
        "replicas": REPLICAS,
        "visit_turns": plan.visit_turns,
        "visitors": len({s.user_id for s in load.sent}),
        **latency_summary(ok, load.wall_seconds),
        "errors": sum(not s.ok for s in load.sent),
        "error_kinds": dict(Counter(s.failures[-1] for s in load.sent if not s.ok and s.failures)),
        "retried_messages": sum(s.ok and bool(s.failures) for s in load.sent),
        "retry_kinds": dict(Counter(failure for s in load.sent if s.ok for failure in s.failures)),
        "busy_notices": sum(s.busy for s in load.sent),
        "most_busy_notices_for_one_customer": max(Counter(s.user_id for s in load.sent if s.busy).values(), default=0),
        "empty_replies": sum(s.ok and s.replies == 0 for s in load.sent),
        **integrity(load.sent, stored),
        "per_minute": per_minute(load.sent),
    }


def _service_names() -> list[str]:
    return ["api"] + [f"{service}-{i}" for service in ("rasa", "actions") for i in range(1, REPLICAS + 1)]


async def _load_with_kill(
    stack: EphemeralStack, slots: list[list[Customer]], warmup: list[Customer], plan: SoakPlan
) -> SoakLoad:
    """The load; with `plan.kill`, that service gets SIGKILL halfway through it (the supervisor restarts it)."""
    load = SoakLoad()
    running = asyncio.create_task(run_soak_load(stack.api_url, slots, warmup, plan.minutes, load))
    if plan.kill is not None:
        await load.measuring.wait()
        await asyncio.sleep(plan.minutes * 30)  # halfway through the measured part
        logger.info("Soak: kill -9 %s", plan.kill)
        os.kill(stack.pid(plan.kill), signal.SIGKILL)
    return await running


def _flushed_redis() -> str:
    client = redis.Redis.from_url(SOAK_REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()
    return SOAK_REDIS_URL


def run_soak(model: Path, workdir: Path, plan: SoakPlan) -> dict[str, Any]:
    """Starts the replicated stack under the supervisor, runs the load, checks the CRM, stops everything.

    Returns {"skipped": reason} when PostgreSQL or Redis is not reachable (the soak needs both).
    """
    try:
        redis_url = _flushed_redis()
        databases = ThrowawayPostgres()
    except (redis.ConnectionError, PostgresUnreachable) as error:
        return {"skipped": f"the replicated stack needs PostgreSQL and Redis: {error}"}
    try:
        logger.info("Soak: starting %d of each service on PostgreSQL + Redis", REPLICAS)
        stack = start_ephemeral_stack(
            workdir,
            model,
            supervised=True,
            backoff=Backoff(first_seconds=0.5),
            replicas=REPLICAS,
            database_url=databases.create("bench_soak"),
            tracker_database_url="",  # Rasa's trackers in the same PostgreSQL database, shared by both
            redis_url=redis_url,
        )
        try:
            slots, warmup = scripts(stack, plan)
            names = _service_names()
            memory_before = {name: peak_memory_mib(stack.pid(name))["rss_mib"] for name in names}
            logger.info("Soak: %d customers for %.1f minutes", plan.customers, plan.minutes)
            with cpu_during({name: stack.pid(name) for name in names}) as cpu:
                load = asyncio.run(_load_with_kill(stack, slots, warmup, plan))
            summary = summarise(load, stored_inbound(stack, [v.user_id for visitors in slots for v in visitors]), plan)
            summary["cpu_seconds"] = cpu
            summary["rss_mib"] = {
                name: {"start": memory_before[name], "end": peak_memory_mib(stack.pid(name))["rss_mib"]}
                for name in names
            }
            summary["killed"] = plan.kill
            summary["crashes"] = [event.split("\n", 1)[0] for event in stack.events if "CRASHED" in event]
            return summary
        finally:
            stack.stop()
    finally:
        databases.drop_all()
