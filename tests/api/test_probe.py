"""api/hub/probe.py: a positive liveness answer is trusted for a short time, a negative one never."""

from __future__ import annotations

from api.hub.probe import RecentlyAlive


class FakeCheck:
    def __init__(self) -> None:
        self.alive = True
        self.calls = 0

    async def __call__(self) -> bool:
        self.calls += 1
        return self.alive


async def test_a_positive_answer_is_reused_within_the_ttl_and_checked_again_after() -> None:
    now = [100.0]
    check = FakeCheck()
    probe = RecentlyAlive(check, ttl_seconds=0.5, clock=lambda: now[0])
    assert await probe() is True and check.calls == 1
    now[0] += 0.4
    assert await probe() is True and check.calls == 1  # trusted
    check.alive = False
    now[0] += 0.2  # past the TTL: asks again and sees the failure
    assert await probe() is False and check.calls == 2


async def test_a_negative_answer_is_checked_again_on_every_call() -> None:
    check = FakeCheck()
    check.alive = False
    probe = RecentlyAlive(check, ttl_seconds=10.0, clock=lambda: 0.0)
    assert await probe() is False
    assert await probe() is False
    check.alive = True
    assert await probe() is True
    assert check.calls == 3
