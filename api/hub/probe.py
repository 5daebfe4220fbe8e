"""Is a dependency answering? Used by /health and by the hub to tell a real answer from a degraded one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx


async def is_reachable(http: httpx.AsyncClient, url: str, timeout_seconds: float = 2.0) -> bool:
    try:
        response = await http.get(url, timeout=timeout_seconds)
        return response.status_code == 200
    except httpx.HTTPError:
        return False


async def reachable_each(http: httpx.AsyncClient, urls: list[str], timeout_seconds: float = 2.0) -> list[bool]:
    """Whether each of several replicas answers (probed concurrently), in the order given."""
    return list(await asyncio.gather(*(is_reachable(http, url, timeout_seconds) for url in urls)))


class RecentlyAlive:
    """Wraps a liveness check and trusts a positive answer for `ttl_seconds`; a negative one is re-checked.

    The hub asks after every bot reply whether the action server is up (Rasa answers even when it is
    not). One HTTP probe per message was 14% of the hub's CPU under the benchmark load; with this, a
    busy hub probes at most once per `ttl_seconds`, and notices a dead action server within that time.
    """

    def __init__(
        self, check: Callable[[], Awaitable[bool]], ttl_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._check = check
        self._ttl = ttl_seconds
        self._clock = clock
        self._alive_until = float("-inf")

    async def __call__(self) -> bool:
        if self._clock() < self._alive_until:
            return True
        alive = await self._check()
        self._alive_until = self._clock() + self._ttl if alive else float("-inf")
        return alive
