"""When the bot hands a conversation to a person, per tier: policy/escalation.yml and one pure decision.

`decide(rules, tier, signal, counters, now, desk)` -> Decision. Everything that differs per tier is in the
file; service hours come from the CRM (`service_desk`, read by `load_service_desk`), never from Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.settings import get_settings
from crm.enums import TIERS, Tier
from crm.models import ServiceDesk
from crm.policy import cached_policy, load_policy

Severity = Literal["low", "medium", "high"]
SignalKind = Literal["explicit_request", "complaint", "fallback", "negative_sentiment"]
Action = Literal["escalate", "offer_leave_message", "ticket", "stay_with_bot", "ask_mobile"]
Fallback = Literal["queue", "offer_leave_message", "ticket"]
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Triggers(_Strict):
    explicit_request: int | None = Field(default=None, ge=1)
    complaint_severities: list[Severity] = Field(default_factory=list)
    consecutive_fallbacks: int | None = Field(default=None, ge=1)
    negative_sentiment: bool = False


class TierRule(_Strict):
    triggers: Triggers
    priority: int = Field(ge=0)
    first_response_seconds: int = Field(gt=0)
    agent_group: str | None
    outside_service_hours: Fallback
    max_wait_seconds: int = Field(gt=0)
    when_wait_too_long: Fallback


class UnidentifiedRule(_Strict):
    ask_mobile_times: int = Field(ge=0)
    fallback_tier: Tier


class EscalationRules(_Strict):
    tiers: dict[Tier, TierRule]
    unidentified: UnidentifiedRule

    @model_validator(mode="after")
    def _every_tier(self) -> EscalationRules:
        missing = [tier for tier in TIERS if tier not in self.tiers]
        if missing:
            raise ValueError(f"every tier needs rules; missing: {', '.join(missing)}")
        return self


@cached_policy("escalation.yml")
def load_escalation_rules(directory: Path | None = None) -> EscalationRules:
    """policy/escalation.yml, validated (crm.policy.PolicyError naming the file and line otherwise)."""
    return load_policy("escalation.yml", EscalationRules, directory=directory)


@dataclass(frozen=True)
class Signal:
    kind: SignalKind
    severity: Severity | None = None  # complaints only


@dataclass(frozen=True)
class Counters:
    """What happened so far in the conversation, including the signal being decided."""

    explicit_requests: int = 0
    consecutive_fallbacks: int = 0
    mobile_asked: int = 0
    estimated_wait_seconds: int | None = None


@dataclass(frozen=True)
class ServiceDeskHours:
    """When agents are on duty: {"mon": [["08:30", "22:00"]], ...} in `timezone`."""

    weekly: dict[str, list[list[str]]]
    timezone: str
    text_zh: str = ""
    hotline: str = ""
    complaint_hotline: str = ""

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(ZoneInfo(self.timezone))
        moment = local.time()
        for start, end in self.weekly.get(WEEKDAY_KEYS[local.weekday()], []):
            if time.fromisoformat(start) <= moment < time.fromisoformat(end):
                return True
        return False


def load_service_desk(session: Session) -> ServiceDeskHours:
    desk = session.scalar(select(ServiceDesk).order_by(ServiceDesk.id).limit(1))
    if desk is None:
        raise LookupError("the CRM has no service_desk row: seed the tenant first")
    return ServiceDeskHours(
        weekly=desk.service_hours,
        timezone=get_settings().timezone,
        text_zh=desk.service_hours_text_zh,
        hotline=desk.hotline,
        complaint_hotline=desk.complaint_hotline,
    )


@dataclass(frozen=True)
class Decision:
    action: Action
    tier: Tier | None
    priority: int
    sla_seconds: int | None
    group: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "tier": self.tier,
            "priority": self.priority,
            "sla_seconds": self.sla_seconds,
            "group": self.group,
            "reason": self.reason,
        }


def complaint_severity(crm_severity: str, *, negative_sentiment: bool) -> Severity:
    """The rules' scale from a complaint: CRM 'high' is high; an upset customer's normal complaint is medium."""
    if crm_severity == "high":
        return "high"
    return "medium" if negative_sentiment else "low"


def _trigger(rule: TierRule, signal: Signal, counters: Counters) -> str | None:
    """Why this signal escalates under `rule`, or None."""
    triggers = rule.triggers
    if signal.kind == "explicit_request" and triggers.explicit_request is not None:
        if counters.explicit_requests >= triggers.explicit_request:
            return f"explicit request #{counters.explicit_requests} (escalates from #{triggers.explicit_request})"
    if signal.kind == "complaint" and signal.severity in triggers.complaint_severities:
        return f"complaint of {signal.severity} severity"
    if signal.kind == "fallback" and triggers.consecutive_fallbacks is not None:
        if counters.consecutive_fallbacks >= triggers.consecutive_fallbacks:
            return f"{counters.consecutive_fallbacks} fallbacks in a row"
    if signal.kind == "negative_sentiment" and triggers.negative_sentiment:
        return "negative sentiment"
    return None


def decide(
    rules: EscalationRules,
    tier: Tier | None,
    signal: Signal,
    counters: Counters,
    now: datetime,
    desk: ServiceDeskHours,
) -> Decision:
    """What to do with `signal` for a customer of `tier` (None = not identified) at `now`."""
    if tier is None and counters.mobile_asked < rules.unidentified.ask_mobile_times:
        return Decision("ask_mobile", None, 0, None, None, "customer not identified: ask for a mobile number")
    effective: Tier = tier or rules.unidentified.fallback_tier
    rule = rules.tiers[effective]
    label = effective if tier is not None else f"unidentified, {effective} rules"

    def decision(action: Action, why: str) -> Decision:
        escalating = action == "escalate"
        return Decision(
            action=action,
            tier=effective,
            priority=rule.priority if escalating else 0,
            sla_seconds=rule.first_response_seconds if escalating else None,
            group=rule.agent_group if escalating else None,
            reason=f"{label}: {why}",
        )

    why = _trigger(rule, signal, counters)
    if why is None:
        if signal.kind == "complaint":
            return decision("ticket", f"complaint of {signal.severity} severity is recorded as a ticket")
        return decision("stay_with_bot", f"{signal.kind.replace('_', ' ')} does not escalate yet")
    if not desk.is_open(now):
        return decision(_fallback_action(rule.outside_service_hours), f"{why}, outside service hours")
    wait = counters.estimated_wait_seconds
    if wait is not None and wait > rule.max_wait_seconds:
        return decision(
            _fallback_action(rule.when_wait_too_long),
            f"{why}, estimated wait {wait}s exceeds {rule.max_wait_seconds}s",
        )
    return decision("escalate", why)


def _fallback_action(fallback: Fallback) -> Action:
    return "escalate" if fallback == "queue" else fallback
