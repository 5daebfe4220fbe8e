"""Escalations, first-response times against each tier's SLA, and satisfaction ratings, for a period."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.enums import TIERS
from crm.models import Agent, CsatResponse, Escalation, TierServiceLevel
from crm.services.analytics.period import Period
from crm.services.analytics.schemas import Count, CsatGroup, ResponseTimes
from crm.services.analytics.traffic import TOP, rate

# Escalations of customers the channel did not identify have no tier.
NO_TIER = "anonymous"
UNKNOWN_BUSINESS = "unknown"
SCORES = ("1", "2", "3", "4", "5")


@dataclass(frozen=True)
class ServiceLevels:
    escalations: int
    by_tier: dict[str, int]
    by_reason: list[Count]
    first_response: dict[str, ResponseTimes]


@dataclass(frozen=True)
class Satisfaction:
    responses: int
    average: float | None
    distribution: dict[str, int]
    by_agent: list[CsatGroup]
    by_business: list[CsatGroup]


def tier_labels(session: Session) -> dict[str, str]:
    return dict(session.execute(select(TierServiceLevel.tier, TierServiceLevel.label_zh)).tuples().all())


def percentile(sorted_values: list[int], p: float) -> int | None:
    """Nearest-rank percentile: the smallest value with at least p% of the values at or below it."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def sla_state(escalation: Escalation, now: datetime) -> str:
    """ "met", "breached", "pending" (still open and not yet due) or "none" (no SLA was set)."""
    if escalation.sla_due_at is None:
        return "none"
    if escalation.sla_breached_at is not None:
        return "breached"
    if escalation.first_response_at is not None:
        return "met" if escalation.first_response_at <= escalation.sla_due_at else "breached"
    if escalation.status == "closed" or escalation.sla_due_at < now:
        return "breached"  # closed unanswered, or overdue before the breach sweeper marked it
    return "pending"


def service_levels(session: Session, period: Period, *, now: datetime) -> ServiceLevels:
    escalations = session.scalars(
        select(Escalation).where(Escalation.queued_at >= period.start, Escalation.queued_at < period.end)
    ).all()
    tiers = (*TIERS, NO_TIER)
    by_tier: Counter[str] = Counter(dict.fromkeys(tiers, 0))
    reasons: Counter[str] = Counter()
    waits: dict[str, list[int]] = defaultdict(list)
    states: dict[str, Counter[str]] = {tier: Counter() for tier in tiers}
    for escalation in escalations:
        tier = escalation.tier or NO_TIER
        by_tier[tier] += 1
        reasons[escalation.reason] += 1
        if escalation.first_response_at is not None:
            waits[tier].append(int((escalation.first_response_at - escalation.queued_at).total_seconds()))
        states[tier][sla_state(escalation, now)] += 1

    first_response = {}
    for tier in tiers:
        values = sorted(waits[tier])
        met, breached = states[tier]["met"], states[tier]["breached"]
        first_response[tier] = ResponseTimes(
            escalations=by_tier[tier],
            answered=len(values),
            p50_seconds=percentile(values, 50),
            p90_seconds=percentile(values, 90),
            max_seconds=values[-1] if values else None,
            sla_met=met,
            sla_breached=breached,
            sla_pending=states[tier]["pending"],
            sla_rate=rate(met, met + breached),
        )
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:TOP]
    return ServiceLevels(
        escalations=len(escalations),
        by_tier=dict(by_tier),
        by_reason=[Count(key=key, count=count) for key, count in ranked],
        first_response=first_response,
    )


def satisfaction(session: Session, period: Period) -> Satisfaction:
    """Ratings given in the period, overall, per agent and per business (the escalation's business)."""
    rows = session.execute(
        select(CsatResponse.score, CsatResponse.agent_id, Agent.name, Escalation.business_code)
        .outerjoin(Agent, Agent.id == CsatResponse.agent_id)
        .outerjoin(Escalation, Escalation.id == CsatResponse.escalation_id)
        .where(CsatResponse.created_at >= period.start, CsatResponse.created_at < period.end)
    ).all()
    agents: dict[str, list[int]] = defaultdict(list)
    agent_names: dict[str, str | None] = {}
    businesses: dict[str, list[int]] = defaultdict(list)
    for score, agent_id, agent_name, business_code in rows:
        agent_key = str(agent_id) if agent_id is not None else "none"
        agents[agent_key].append(score)
        agent_names[agent_key] = agent_name
        businesses[business_code or UNKNOWN_BUSINESS].append(score)
    scores = [row.score for row in rows]
    return Satisfaction(
        responses=len(scores),
        average=_average(scores),
        distribution=_distribution(scores),
        by_agent=[_group(key, agent_names[key], values) for key, values in sorted(agents.items())],
        by_business=[_group(key, None, values) for key, values in sorted(businesses.items())],
    )


def _average(scores: list[int]) -> float | None:
    return round(sum(scores) / len(scores), 2) if scores else None


def _distribution(scores: list[int]) -> dict[str, int]:
    counts = Counter(str(score) for score in scores)
    return {score: counts[score] for score in SCORES}


def _group(key: str, label: str | None, scores: list[int]) -> CsatGroup:
    return CsatGroup(
        key=key, label=label, responses=len(scores), average=_average(scores), distribution=_distribution(scores)
    )
