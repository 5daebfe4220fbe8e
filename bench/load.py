"""Simulated customers chatting concurrently: each sends its next turn after the previous reply arrived."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from bench.scripts import Customer, Turn
from bench.stats import latency_summary


@dataclass
class Sample:
    user_id: str
    episode: str
    seconds: float
    ok: bool
    replies: int


@dataclass
class LoadResult:
    samples: list[Sample]
    wall_seconds: float
    warmup: list[Sample] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ok = [s.seconds for s in self.samples if s.ok]
        slowest = max(self.samples, key=lambda s: s.seconds)
        return {
            **latency_summary(ok, self.wall_seconds),
            "errors": sum(not s.ok for s in self.samples),
            "empty_replies": sum(s.ok and s.replies == 0 for s in self.samples),
            "slowest": {"seconds": slowest.seconds, "episode": slowest.episode, "user_id": slowest.user_id},
            "warmup_turns": len(self.warmup),
            "warmup_seconds": [round(s.seconds, 4) for s in self.warmup],
            "per_episode_p50": _per_episode_p50(self.samples),
        }


def _per_episode_p50(samples: list[Sample]) -> dict[str, float]:
    from bench.stats import percentile

    episodes = sorted({s.episode for s in samples})
    return {
        e: percentile([s.seconds for s in samples if s.episode == e and s.ok], 50)
        for e in episodes
        if any(s.episode == e and s.ok for s in samples)
    }


class Target(Protocol):
    name: str

    async def prepare(self, client: httpx.AsyncClient, customer: Customer) -> dict[str, Any]: ...

    async def send(self, client: httpx.AsyncClient, customer: Customer, text: str, state: dict[str, Any]) -> int:
        """Sends one message and returns the number of replies; raises on HTTP errors."""
        ...


@dataclass
class ApiTarget:
    """The full stack: the web widget endpoint of the API hub."""

    base_url: str
    name: str = "full_stack"

    async def prepare(self, client: httpx.AsyncClient, customer: Customer) -> dict[str, Any]:
        if customer.web_user_id is None:
            return {}
        response = await client.get(
            f"{self.base_url}/api/widget/dev-identity", params={"web_user_id": customer.web_user_id}
        )
        response.raise_for_status()
        return {"identity_token": response.json()["identity_token"]}

    async def send(self, client: httpx.AsyncClient, customer: Customer, text: str, state: dict[str, Any]) -> int:
        body = {"user_id": customer.user_id, "text": text, "client_message_id": uuid.uuid4().hex, **state}
        response = await client.post(f"{self.base_url}/api/widget/messages", json=body)
        response.raise_for_status()
        return len(response.json()["replies"])


@dataclass
class RasaTarget:
    """Bare Rasa: its REST channel, no hub, no action server."""

    base_url: str
    name: str = "bare_rasa"
    headers: dict[str, str] = field(default_factory=dict)  # the hub's JWT for the stack's own Rasa

    async def prepare(self, client: httpx.AsyncClient, customer: Customer) -> dict[str, Any]:
        return {}

    async def send(self, client: httpx.AsyncClient, customer: Customer, text: str, state: dict[str, Any]) -> int:
        response = await client.post(
            f"{self.base_url}/webhooks/rest/webhook",
            json={"sender": customer.user_id, "message": text},
            headers=self.headers,
        )
        response.raise_for_status()
        return len(response.json())


async def _timed_send(
    target: Target, client: httpx.AsyncClient, customer: Customer, turn: Turn, state: dict[str, Any]
) -> Sample:
    started = time.perf_counter()
    try:
        replies = await target.send(client, customer, turn.text, state)
        ok = True
    except httpx.HTTPError:
        replies, ok = 0, False
    return Sample(customer.user_id, turn.episode, time.perf_counter() - started, ok, replies)


async def _chat(
    target: Target, client: httpx.AsyncClient, customer: Customer, samples: list[Sample], *, think: bool = True
) -> None:
    """One customer: arrives after its start delay, then sends each turn after the reply and its think time."""
    if think and customer.start_delay:
        await asyncio.sleep(customer.start_delay)
    state = await target.prepare(client, customer)
    for turn in customer.turns:
        samples.append(await _timed_send(target, client, customer, turn, state))
        if think and turn.think_after:
            await asyncio.sleep(turn.think_after)


async def run_load(
    target: Target,
    customers: list[Customer],
    warmup: list[Customer],
    timeout_seconds: float = 30.0,
) -> LoadResult:
    """Warm-up customers chat one after another without pauses (not measured), then all customers at once.

    Latency is timed per request only; think times and start delays come from the scripts.
    """
    limits = httpx.Limits(max_connections=len(customers) + 4, max_keepalive_connections=len(customers) + 4)
    async with httpx.AsyncClient(timeout=timeout_seconds, limits=limits, trust_env=False) as client:
        warm: list[Sample] = []
        for customer in warmup:
            await _chat(target, client, customer, warm, think=False)
        samples: list[Sample] = []
        started = time.perf_counter()
        await asyncio.gather(*(_chat(target, client, c, samples) for c in customers))
        wall = time.perf_counter() - started
    return LoadResult(samples, wall, warm)
