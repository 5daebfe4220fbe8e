"""Limits on lookups that would reveal someone's data to a visitor who proves ownership with a mobile.

Only failures count (a wrong number or a mobile that is not on the order): a customer checking their own
orders again and again is never stopped, while guessing the mobile for a known order number is stopped
after a few tries, per order number and per conversation, across every action-server process (Redis).
Once stopped, the lookup is not even made, so a right guess after the limit reveals nothing.
"""

from __future__ import annotations

from functools import lru_cache

from core.rate_limits import RateLimit, counter_storage
from core.settings import get_settings


@lru_cache
def _limits() -> tuple[RateLimit, RateLimit]:
    settings = get_settings()
    storage = counter_storage(settings.redis_url)
    return (
        RateLimit("order-lookup-failures-by-number", settings.lookup_failure_limit_per_number, storage),
        RateLimit("order-lookup-failures-by-conversation", settings.lookup_failure_limit_per_conversation, storage),
    )


def _keys(conversation: str, order_number: str) -> tuple[tuple[RateLimit, str], ...]:
    by_number, by_conversation = _limits()
    return ((by_number, order_number), (by_conversation, conversation))


def lookup_allowed(conversation: str, order_number: str) -> bool:
    return all(limit.check(key).allowed for limit, key in _keys(conversation, order_number))


def record_failed_lookup(conversation: str, order_number: str) -> None:
    for limit, key in _keys(conversation, order_number):
        limit.count(key)
