"""crm/policy.py serving ops' edited policy versions: a new version is a new cache entry, noticed within
EDIT_CHECK_SECONDS; the repository file otherwise; a database outage keeps the last known version."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crm import policy
from crm.services.canned_replies import load_canned_replies
from crm.services.escalation_rules import load_escalation_rules

ESCALATION = (Path(policy.POLICY_DIR) / "escalation.yml").read_text(encoding="utf-8")


@pytest.fixture
def edits(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, tuple[int, str]]]:
    stored: dict[str, tuple[int, str]] = {}
    monkeypatch.setattr(policy, "EDIT_CHECK_SECONDS", 0.0)
    policy.use_policy_edits(stored.get)
    yield stored
    policy.use_policy_edits(None)


def test_the_latest_edit_wins_over_the_file_and_the_file_comes_back_without_edits(
    edits: dict[str, tuple[int, str]],
) -> None:
    assert load_escalation_rules().tiers["lead"].first_response_seconds == 600
    edits["policy/escalation.yml"] = (
        1,
        ESCALATION.replace("first_response_seconds: 600", "first_response_seconds: 900"),
    )
    assert load_escalation_rules().tiers["lead"].first_response_seconds == 900
    edits["policy/escalation.yml"] = (2, ESCALATION)
    assert load_escalation_rules().tiers["lead"].first_response_seconds == 600
    policy.use_policy_edits(None)
    assert load_escalation_rules().tiers["lead"].first_response_seconds == 600


def test_a_process_looks_again_only_after_the_check_period(
    edits: dict[str, tuple[int, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(policy, "EDIT_CHECK_SECONDS", 3600.0)
    before = load_canned_replies()
    edits["policy/canned_replies.yml"] = (1, "common: []\nbusinesses: {}\n")
    assert load_canned_replies() is before  # within the period: no look-up
    monkeypatch.setattr(policy, "EDIT_CHECK_SECONDS", 0.0)
    assert load_canned_replies() is not before


def test_an_unreachable_database_keeps_the_last_known_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(policy, "EDIT_CHECK_SECONDS", 0.0)
    answers: list[tuple[int, str] | None] = [
        (5, ESCALATION.replace("priority: 100", "priority: 110", 1)),
    ]

    def flaky(path: str) -> tuple[int, str] | None:
        if answers:
            return answers.pop()
        raise ConnectionError("database down")

    policy.use_policy_edits(flaky)
    try:
        assert load_escalation_rules().tiers["platinum"].priority == 110
        assert load_escalation_rules().tiers["platinum"].priority == 110
    finally:
        policy.use_policy_edits(None)


def test_an_explicit_folder_never_reads_edits(edits: dict[str, tuple[int, str]]) -> None:
    edits["policy/escalation.yml"] = (1, "tiers: {}\n")  # would not even load
    assert load_escalation_rules(directory=policy.POLICY_DIR).tiers["gold"].priority == 70
