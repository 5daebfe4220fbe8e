"""core/rate_limits.py: rules per key, shared through Redis by several processes, never blocking on an outage."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from core.rate_limits import RateLimit, counter_storage
from core.settings import Settings

REDIS_URL = os.environ.get("RATE_LIMIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/8")


def test_each_key_has_its_own_count_and_every_rule_applies() -> None:
    limit = RateLimit("messages", "3/10 seconds;5/minute", counter_storage(None))
    assert [limit.take("a").allowed for _ in range(4)] == [True, True, True, False]
    refused = limit.check("a")
    assert not refused.allowed and 1.0 <= refused.retry_after_seconds <= 10.0
    assert limit.take("b").allowed  # another conversation is not affected


def test_check_does_not_count_and_several_keys_must_all_be_within() -> None:
    limit = RateLimit("lookups", "2/hour", counter_storage(None))
    for _ in range(5):
        assert limit.check("conversation:1").allowed
    limit.count("conversation:1", "customer:7")
    limit.count("customer:7")
    assert limit.check("conversation:1").allowed
    assert not limit.take("conversation:2", "customer:7").allowed


def test_two_processes_share_the_count_through_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError as error:
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {error}")
    name = f"shared-{uuid.uuid4().hex[:8]}"
    one = RateLimit(name, "3/minute", counter_storage(REDIS_URL))
    two = RateLimit(name, "3/minute", counter_storage(REDIS_URL))
    assert one.take("k").allowed and two.take("k").allowed and one.take("k").allowed
    assert not two.take("k").allowed


def test_an_unreachable_counter_store_lets_customers_through() -> None:
    limit = RateLimit("messages", "1/minute", counter_storage("redis://127.0.0.1:1/0"))
    assert limit.take("k").allowed and limit.take("k").allowed


@pytest.mark.parametrize("rules", ["lots", "5 per", ""])
def test_a_malformed_rule_is_a_configuration_error_naming_the_variable(rules: str) -> None:
    with pytest.raises(ValueError, match="is not a rate limit"):
        Settings(message_rate_limit=rules)
