"""The soak's bookkeeping: what counts as lost, duplicated, reordered or mismatched, and its verdict."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

import bench.soak as soak_module
from bench.soak import Sent, StoredInbound, integrity, per_minute
from bench.soak_report import soak_section, soak_verdict


def sent(
    user: str, message_id: str, *, at: float = 0.0, seconds: float = 0.2, ok: bool = True, replies: int = 1
) -> Sent:
    return Sent(user, message_id, at, seconds, ok, replies, busy=False)


def test_everything_stored_once_in_order_with_its_replies_is_clean() -> None:
    messages = [sent("a", "1"), sent("a", "2", replies=2), sent("b", "3")]
    stored = [StoredInbound("a", "1", 1), StoredInbound("b", "3", 1), StoredInbound("a", "2", 2)]
    assert integrity(messages, stored) == {
        "lost": 0,
        "duplicated": 0,
        "reordered_conversations": 0,
        "reply_mismatches": 0,
    }


def test_a_missing_message_is_lost_but_a_failed_request_is_only_an_error() -> None:
    messages = [sent("a", "1"), sent("a", "2"), sent("a", "3", ok=False)]
    assert integrity(messages, [StoredInbound("a", "1", 1)])["lost"] == 1


def test_a_message_stored_twice_is_duplicated() -> None:
    stored = [StoredInbound("a", "1", 1), StoredInbound("a", "1", 1)]
    assert integrity([sent("a", "1")], stored)["duplicated"] == 1


def test_messages_stored_in_another_order_than_sent_reorder_their_conversation() -> None:
    messages = [sent("a", "1"), sent("a", "2"), sent("b", "3"), sent("b", "4")]
    stored = [
        StoredInbound("a", "2", 1),
        StoredInbound("a", "1", 1),
        StoredInbound("b", "3", 1),
        StoredInbound("b", "4", 1),
    ]
    assert integrity(messages, stored)["reordered_conversations"] == 1


def test_replies_the_customer_got_must_be_the_stored_ones() -> None:
    messages = [sent("a", "1", replies=2), sent("a", "2", replies=1)]
    stored = [StoredInbound("a", "1", 1), StoredInbound("a", "2", 1)]
    assert integrity(messages, stored)["reply_mismatches"] == 1


def test_per_minute_groups_by_when_a_message_was_sent() -> None:
    messages = [
        sent("a", "1", at=5, seconds=0.1),
        sent("a", "2", at=59.9, seconds=0.3),
        sent("a", "3", at=61, ok=False),
    ]
    minutes = per_minute(messages)
    assert [(m["minute"], m["messages"], m["errors"]) for m in minutes] == [(1, 2, 0), (2, 1, 1)]
    assert minutes[0]["p99"] > 0.29
    assert minutes[1]["p50"] is None  # no successful message in that minute


def soak(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "errors": 0,
        "busy_notices": 0,
        "lost": 0,
        "duplicated": 0,
        "reordered_conversations": 0,
        "reply_mismatches": 0,
        "p99": 0.8,
    }
    return values | overrides


def test_the_verdict_needs_no_fault_and_a_p99_under_two_seconds() -> None:
    assert soak_verdict(soak())[2]
    assert not soak_verdict(soak(p99=2.0))[2]
    assert not soak_verdict(soak(busy_notices=1))[2]
    assert not soak_verdict(soak(lost=1))[2]
    assert "1 lost" in soak_verdict(soak(lost=1))[1]


def test_a_skipped_soak_says_why() -> None:
    assert "needs PostgreSQL" in "\n".join(soak_section({"skipped": "the replicated stack needs PostgreSQL"}))


def test_with_a_process_killed_one_busy_notice_per_customer_is_allowed_and_p99_is_not_judged() -> None:
    killed = soak(killed="rasa-1", busy_notices=7, most_busy_notices_for_one_customer=1, p99=4.0)
    assert soak_verdict(killed)[2]
    assert "7 busy notices" in soak_verdict(killed)[1]
    assert not soak_verdict(killed | {"most_busy_notices_for_one_customer": 2})[2]
    assert not soak_verdict(killed | {"lost": 1})[2]


def test_after_a_busy_notice_the_late_answer_is_a_further_stored_reply() -> None:
    busy = Sent("a", "1", 0.0, 3.0, True, 1, busy=True)
    assert integrity([busy], [StoredInbound("a", "1", 2)])["reply_mismatches"] == 0
    assert integrity([busy], [StoredInbound("a", "1", 0)])["reply_mismatches"] == 1


def _client(statuses: list[int]) -> httpx.AsyncClient:
    answers = iter(statuses)

    def reply(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return httpx.Response(status, json={"replies": [{"text": "好的"}]} if status == 200 else {"detail": "x"})

    return httpx.AsyncClient(transport=httpx.MockTransport(reply))


@pytest.mark.parametrize(
    ("statuses", "delivered", "failures"),
    [
        ([200], True, []),
        ([503, 429, 200], True, ["HTTP 503", "HTTP 429"]),
        ([422], False, ["HTTP 422"]),  # a 4xx is final, as in the widget
        ([503, 503, 503, 503], False, ["HTTP 503"] * 4),
    ],
)
def test_messages_are_resent_the_way_the_widget_does(
    monkeypatch: pytest.MonkeyPatch, statuses: list[int], delivered: bool, failures: list[str]
) -> None:
    monkeypatch.setattr(soak_module, "RETRY_DELAYS_SECONDS", (0.0, 0.0, 0.0))

    async def send() -> soak_module.Outcome:
        async with _client(statuses) as client:
            return await soak_module._send_like_the_widget(client, "http://hub", {"text": "你好"})

    outcome = asyncio.run(send())
    assert (outcome.delivered, outcome.failures) == (delivered, failures)
    assert outcome.replies == (["好的"] if delivered else [])
