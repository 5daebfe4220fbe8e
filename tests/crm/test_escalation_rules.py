from datetime import datetime, timezone
from pathlib import Path

import pytest

from crm.policy import PolicyError, parse_policy
from crm.policy_check import check
from crm.seed.config import load_seed_data
from crm.services.escalation_rules import (
    Counters,
    EscalationRules,
    ServiceDeskHours,
    Signal,
    complaint_severity,
    decide,
    load_escalation_rules,
)

RULES = load_escalation_rules()
DESK = ServiceDeskHours(
    weekly={day: [["08:30", "22:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    timezone="Asia/Shanghai",
)
OPEN = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)  # 11:00 in Shanghai
CLOSED = datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)  # 00:00 in Shanghai
REQUEST = Signal("explicit_request")
FALLBACK = Signal("fallback")
UPSET = Signal("negative_sentiment")


def complaint(severity: str) -> Signal:
    return Signal("complaint", severity)  # type: ignore[arg-type]


# (tier, signal, counters, now) -> (action, priority, sla_seconds, group)
CASES = [
    # platinum: on request, any complaint, the first fallback -> at once, highest priority, 30 s, VIP group
    ("platinum", REQUEST, Counters(explicit_requests=1), OPEN, ("escalate", 100, 30, "vip")),
    ("platinum", complaint("low"), Counters(), OPEN, ("escalate", 100, 30, "vip")),
    ("platinum", complaint("high"), Counters(), OPEN, ("escalate", 100, 30, "vip")),
    ("platinum", FALLBACK, Counters(consecutive_fallbacks=1), OPEN, ("escalate", 100, 30, "vip")),
    ("platinum", UPSET, Counters(), OPEN, ("stay_with_bot", 0, None, None)),
    ("platinum", REQUEST, Counters(explicit_requests=1), CLOSED, ("offer_leave_message", 0, None, None)),
    # gold: request, medium/high complaint, 2 fallbacks in a row, negative sentiment -> 60 s
    ("gold", REQUEST, Counters(explicit_requests=1), OPEN, ("escalate", 70, 60, None)),
    ("gold", complaint("low"), Counters(), OPEN, ("ticket", 0, None, None)),
    ("gold", complaint("medium"), Counters(), OPEN, ("escalate", 70, 60, None)),
    ("gold", complaint("high"), Counters(), OPEN, ("escalate", 70, 60, None)),
    ("gold", FALLBACK, Counters(consecutive_fallbacks=1), OPEN, ("stay_with_bot", 0, None, None)),
    ("gold", FALLBACK, Counters(consecutive_fallbacks=2), OPEN, ("escalate", 70, 60, None)),
    ("gold", UPSET, Counters(), OPEN, ("escalate", 70, 60, None)),
    # iron: request or 3 fallbacks -> 180 s; outside service hours a message left instead
    ("iron", REQUEST, Counters(explicit_requests=1), OPEN, ("escalate", 40, 180, None)),
    ("iron", FALLBACK, Counters(consecutive_fallbacks=2), OPEN, ("stay_with_bot", 0, None, None)),
    ("iron", FALLBACK, Counters(consecutive_fallbacks=3), OPEN, ("escalate", 40, 180, None)),
    ("iron", complaint("high"), Counters(), OPEN, ("ticket", 0, None, None)),
    ("iron", UPSET, Counters(), OPEN, ("stay_with_bot", 0, None, None)),
    ("iron", REQUEST, Counters(explicit_requests=1), CLOSED, ("offer_leave_message", 0, None, None)),
    (
        "iron",
        REQUEST,
        Counters(explicit_requests=1, estimated_wait_seconds=1200),
        OPEN,
        ("offer_leave_message", 0, None, None),
    ),
    # lead: only a repeated request (twice) or a high-severity complaint -> 600 s; otherwise a ticket
    ("lead", REQUEST, Counters(explicit_requests=1), OPEN, ("stay_with_bot", 0, None, None)),
    ("lead", REQUEST, Counters(explicit_requests=2), OPEN, ("escalate", 10, 600, None)),
    ("lead", complaint("medium"), Counters(), OPEN, ("ticket", 0, None, None)),
    ("lead", complaint("high"), Counters(), OPEN, ("escalate", 10, 600, None)),
    ("lead", FALLBACK, Counters(consecutive_fallbacks=5), OPEN, ("stay_with_bot", 0, None, None)),
    ("lead", REQUEST, Counters(explicit_requests=2), CLOSED, ("ticket", 0, None, None)),
    # unidentified: asked for a mobile once, then iron rules
    (None, REQUEST, Counters(explicit_requests=1), OPEN, ("ask_mobile", 0, None, None)),
    (None, REQUEST, Counters(explicit_requests=1, mobile_asked=1), OPEN, ("escalate", 40, 180, None)),
    (None, FALLBACK, Counters(consecutive_fallbacks=3, mobile_asked=1), OPEN, ("escalate", 40, 180, None)),
]


@pytest.mark.parametrize(("tier", "signal", "counters", "now", "expected"), CASES)
def test_default_rules_per_tier_and_trigger(
    tier: str | None, signal: Signal, counters: Counters, now: datetime, expected: tuple[object, ...]
) -> None:
    decision = decide(RULES, tier, signal, counters, now, DESK)  # type: ignore[arg-type]
    assert (decision.action, decision.priority, decision.sla_seconds, decision.group) == expected
    assert decision.reason


def test_unidentified_customers_get_iron_rules_named_in_the_reason() -> None:
    decision = decide(RULES, None, REQUEST, Counters(explicit_requests=1, mobile_asked=1), OPEN, DESK)
    assert decision.tier == "iron" and "unidentified" in decision.reason


@pytest.mark.parametrize(
    ("crm_severity", "negative", "expected"),
    [("high", False, "high"), ("high", True, "high"), ("normal", True, "medium"), ("normal", False, "low")],
)
def test_complaint_severity_scale(crm_severity: str, negative: bool, expected: str) -> None:
    assert complaint_severity(crm_severity, negative_sentiment=negative) == expected


def test_service_hours_follow_the_desk_in_local_time() -> None:
    assert DESK.is_open(OPEN)
    assert not DESK.is_open(CLOSED)
    assert DESK.is_open(datetime(2026, 11, 20, 0, 30, tzinfo=timezone.utc))  # 08:30 local
    assert not DESK.is_open(datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc))  # 22:00 local


def _broken(original: str, old: str, new: str) -> str:
    assert old in original
    return original.replace(old, new, 1)


POLICY_TEXT = (Path(__file__).resolve().parents[2] / "policy" / "escalation.yml").read_text(encoding="utf-8")


def _line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(
    ("old", "new", "needle", "problem"),
    [
        ("first_response_seconds: 60", "first_response_seconds: -5", "first_response_seconds: -5", "greater than 0"),
        (
            "complaint_severities: [medium, high]",
            "complaint_severities: [medium, urgent]",
            "urgent",
            "'low', 'medium' or 'high'",
        ),
        ("outside_service_hours: ticket", "outside_service_hours: call_me", "call_me", "queue"),
        ("    priority: 40\n", "    priority: 40\n    colour: red\n", "colour: red", "Extra inputs are not permitted"),
        ("  lead:\n", "  diamond:\n", "diamond:", "Input should be"),
        ("fallback_tier: iron", "fallback_tier: bronze", "bronze", "Input should be"),
    ],
)
def test_a_wrong_rules_file_is_refused_with_file_line_and_problem(
    old: str, new: str, needle: str, problem: str
) -> None:
    text = _broken(POLICY_TEXT, old, new)
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, EscalationRules, source="policy/escalation.yml")
    message = str(caught.value)
    assert f"policy/escalation.yml:{_line_of(text, needle)}:" in message
    assert problem in message


def test_invalid_yaml_and_a_missing_tier_are_refused() -> None:
    with pytest.raises(PolicyError, match=r"policy/escalation.yml:\d+: invalid YAML"):
        parse_policy("tiers: [unclosed", EscalationRules, source="policy/escalation.yml")
    without_lead = (
        POLICY_TEXT[: POLICY_TEXT.index("  lead:")] + POLICY_TEXT[POLICY_TEXT.index("# A customer the bot") :]
    )
    with pytest.raises(PolicyError, match="missing: lead"):
        parse_policy(without_lead, EscalationRules, source="policy/escalation.yml")


def test_the_seeded_tier_service_levels_mirror_the_rules() -> None:
    for tier in load_seed_data().tiers:
        rule = RULES.tiers[tier.tier]
        assert (tier.queue_priority, tier.first_response_seconds) == (rule.priority, rule.first_response_seconds)


def test_policy_check_reports_every_broken_file_with_its_line(tmp_path: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "policy"
    for name in ("tiers.yml", "escalation.yml", "sentiment.yml", "bookings.yml"):
        (tmp_path / name).write_text((source / name).read_text(encoding="utf-8"), encoding="utf-8")
    assert check(tmp_path) == []
    tiers = (tmp_path / "tiers.yml").read_text(encoding="utf-8")
    (tmp_path / "tiers.yml").write_text(tiers.replace("top_spend_share: 0.8", "top_spend_share: 1.8"), encoding="utf-8")
    (tmp_path / "sentiment.yml").write_text("exclamation_run: 2\nnegative: []\n", encoding="utf-8")
    problems = check(tmp_path)
    assert len(problems) == 2
    line = next(n for n, text in enumerate(tiers.splitlines(), start=1) if text.startswith("top_spend_share"))
    assert f"tiers.yml:{line}: top_spend_share: Input should be less than or equal to 1" in problems[0]
    assert (
        "sentiment.yml:3: negative: List should have at least 1 item" in problems[1]
        or "sentiment.yml:2:" in problems[1]
    )
