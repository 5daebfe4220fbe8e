"""Limits on lookups that would reveal someone's data to a visitor who proves ownership with a mobile.

By order number: only failures count (a wrong number or a mobile that is not on the order). A customer
checking their own orders again and again is never stopped, while guessing the mobile for a known order
number is stopped after a few tries, per order number and per conversation.

By mobile alone (an anonymous customer without an order number): every look-up counts, found or not, per
mobile and per conversation. A right mobile needs no guessing, so the limit is what keeps a visitor from
reading the orders of mobiles they try; the owner who hits it can still look up by order number.

Counters are shared by every action-server process (Redis). Once stopped, the lookup is not even made, so a
right guess after the limit reveals nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from core.rate_limits import RateLimit, counter_storage
from core.settings import get_settings


@dataclass(frozen=True)
class _Limits:
    failures_by_number: RateLimit
    failures_by_conversation: RateLimit
    by_mobile: RateLimit
    by_mobile_per_conversation: RateLimit


@lru_cache
def _limits() -> _Limits:
    settings = get_settings()
    storage = counter_storage(settings.redis_url)
    return _Limits(
        RateLimit("order-lookup-failures-by-number", settings.lookup_failure_limit_per_number, storage),
        RateLimit("order-lookup-failures-by-conversation", settings.lookup_failure_limit_per_conversation, storage),
        RateLimit("order-lookups-by-mobile", settings.mobile_lookup_limit_per_mobile, storage),
        RateLimit("order-lookups-by-mobile-per-conversation", settings.mobile_lookup_limit_per_conversation, storage),
    )


Counters = tuple[tuple[RateLimit, str], ...]


def _failures(conversation: str, order_number: str) -> Counters:
    limits = _limits()
    return ((limits.failures_by_number, order_number), (limits.failures_by_conversation, conversation))


def _allowed(counters: Counters) -> bool:
    return all(limit.check(key).allowed for limit, key in counters)


def _count(counters: Counters) -> None:
    for limit, key in counters:
        limit.count(key)


def lookup_allowed(conversation: str, order_number: str) -> bool:
    return _allowed(_failures(conversation, order_number))


def record_failed_lookup(conversation: str, order_number: str) -> None:
    _count(_failures(conversation, order_number))


def take_mobile_lookup(conversation: str, mobile: str) -> bool:
    """True (and the look-up counted) when one more look-up of `mobile`'s orders is allowed."""
    limits = _limits()
    counters = ((limits.by_mobile, mobile), (limits.by_mobile_per_conversation, conversation))
    if not _allowed(counters):
        return False
    _count(counters)
    return True
