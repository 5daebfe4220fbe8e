"""Rate limits shared by every process of a service, on the `limits` library.

Counters live in Redis when REDIS_URL is set (required for several processes, see core/settings.py), and
in this process's memory otherwise, where each limit is kept by the one process that enforces it (the API
for message floods, the action server for lookups). Limits are strings like "8/10 seconds;30/minute".
A Redis outage never stops customers: the limit is then not enforced, and that is logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import MovingWindowRateLimiter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_seconds: float = 0.0


class RateLimit:
    """One named limit (`rules`: "8/10 seconds;30/minute"), counted separately for each key."""

    def __init__(self, name: str, rules: str, storage: Storage) -> None:
        self.name = name
        self._items: list[RateLimitItem] = parse_many(rules)
        self._limiter = MovingWindowRateLimiter(storage)

    def check(self, *keys: str) -> Verdict:
        """Whether one more event for every key is within every rule (nothing is counted)."""
        try:
            for key in keys:
                for item in self._items:
                    if not self._limiter.test(item, self.name, key):
                        stats = self._limiter.get_window_stats(item, self.name, key)
                        return Verdict(False, max(stats.reset_time - time.time(), 1.0))
        except Exception:
            logger.exception("rate limit %s not checked (counter store unreachable)", self.name)
        return Verdict(True)

    def count(self, *keys: str) -> None:
        """Count one event for each key."""
        try:
            for key in keys:
                for item in self._items:
                    self._limiter.hit(item, self.name, key)
        except Exception:
            logger.exception("rate limit %s not counted (counter store unreachable)", self.name)

    def take(self, *keys: str) -> Verdict:
        """check(), and count the event when it is allowed."""
        verdict = self.check(*keys)
        if verdict.allowed:
            self.count(*keys)
        return verdict


def counter_storage(redis_url: str | None) -> Storage:
    if redis_url:
        return RedisStorage(redis_url, key_prefix="cs-limits")
    return MemoryStorage()
