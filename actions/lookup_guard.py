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

from functools import lru_cache

from core.rate_limits import RateLimit, counter_storage
from core.settings import get_settings


@lru_cache
def _limits() -> tuple[RateLimit, RateLimit, RateLimit, RateLimit]:
    settings = get_settings()
    storage = counter_storage(settings.redis_url)
    return (
        RateLimit("order-lookup-failures-by-number", settings.lookup_failure_limit_per_number, storage),
        RateLimit("order-lookup-failures-by-conversation", settings.lookup_failure_limit_per_conversation, storage),
        RateLimit("order-lookups-by-mobile", settings.mobile_lookup_limit_per_mobile, storage),
        RateLimit("order-lookups-by-mobile-per-conversation", settings.mobile_lookup_limit_per_conversation, storage),
    )


def _keys(conversation: str, order_number: str) -> tuple[tuple[RateLimit, str], ...]:
    by_number, by_conversation, _, _ = _limits()
    return ((by_number, order_number), (by_conversation, conversation))


def _mobile_keys(conversation: str, mobile: str) -> tuple[tuple[RateLimit, str], ...]:
    _, _, by_mobile, by_conversation = _limits()
    return ((by_mobile, mobile), (by_conversation, conversation))


def lookup_allowed(conversation: str, order_number: str) -> bool:
    return all(limit.check(key).allowed for limit, key in _keys(conversation, order_number))


def record_failed_lookup(conversation: str, order_number: str) -> None:
    for limit, key in _keys(conversation, order_number):
        limit.count(key)


def take_mobile_lookup(conversation: str, mobile: str) -> bool:
    """True (and the look-up counted) when one more look-up of `mobile`'s orders is allowed."""
    keys = _mobile_keys(conversation, mobile)
    if not all(limit.check(key).allowed for limit, key in keys):
        return False
    for limit, key in keys:
        limit.count(key)
    return True
