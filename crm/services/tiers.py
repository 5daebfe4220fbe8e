"""Membership tiers by profitability (policy/tiers.yml): the 80/20 rule on trailing paid spend, lead by cost.

`assign_tiers` is the pure rule on per-customer figures; `recompute_tiers` reads the figures from the CRM,
stores each customer's tier and reason, and records every change in `tier_change`. Ops overrides go through
`override_tier` and are recorded the same way.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from crm.enums import BookingStatus, OrderStatus, Tier
from crm.errors import NotFoundError
from crm.models import Booking, Complaint, Customer, Order, TierChange
from crm.policy import cached_policy, load_policy
from crm.schemas import Dto
from crm.services.churn import ChurnPolicy, refresh_churn
from crm.types import utcnow

ZERO = Decimal("0")
NO_SHOW: BookingStatus = "no_show"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LeadPolicy(_Strict):
    refund_order_statuses: list[OrderStatus]
    complaint_cost: Decimal = Field(ge=0)
    no_show_cost: Decimal = Field(ge=0)
    cost_to_spend_ratio: Decimal = Field(gt=0)


class TierPolicy(_Strict):
    window_days: int = Field(gt=0)
    paid_order_statuses: list[OrderStatus] = Field(min_length=1)
    top_spend_share: Decimal = Field(gt=0, le=1)
    platinum_spend_share: Decimal = Field(gt=0, le=1)
    lead: LeadPolicy
    churn: ChurnPolicy

    @model_validator(mode="after")
    def _platinum_within_top(self) -> TierPolicy:
        if self.platinum_spend_share > self.top_spend_share:
            raise ValueError("platinum_spend_share must not exceed top_spend_share")
        return self


@cached_policy("tiers.yml")
def load_tier_policy(directory: Path | None = None) -> TierPolicy:
    """policy/tiers.yml, validated; read once per process (restart after editing it)."""
    return load_policy("tiers.yml", TierPolicy, directory=directory)


@dataclass(frozen=True)
class CustomerFigures:
    """What the rule looks at for one customer, all within the policy window."""

    customer_id: int
    spend: Decimal
    refunds: Decimal = ZERO
    complaints: int = 0
    no_shows: int = 0


@dataclass(frozen=True)
class TierAssignment:
    tier: Tier
    reason: str


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f} CNY"


def lead_cost(figures: CustomerFigures, policy: LeadPolicy) -> Decimal:
    return figures.refunds + figures.complaints * policy.complaint_cost + figures.no_shows * policy.no_show_cost


def assign_tiers(figures: Iterable[CustomerFigures], policy: TierPolicy) -> dict[int, TierAssignment]:
    """The tier of every customer in `figures` and why (English, shown to agents)."""
    result: dict[int, TierAssignment] = {}
    ranked: list[CustomerFigures] = []
    for item in figures:
        cost = lead_cost(item, policy.lead)
        if cost > 0 and cost >= item.spend * policy.lead.cost_to_spend_ratio:
            result[item.customer_id] = TierAssignment(
                "lead",
                f"costs more than brings: cost {_money(cost)} (refunds {_money(item.refunds)}, "
                f"{item.complaints} complaints, {item.no_shows} no-shows) against paid spend {_money(item.spend)} "
                f"in {policy.window_days} days (lead from {policy.lead.cost_to_spend_ratio:.0%} of spend)",
            )
        elif item.spend > 0:
            ranked.append(item)
        else:
            result[item.customer_id] = TierAssignment("iron", f"no paid spend in {policy.window_days} days")
    ranked.sort(key=lambda item: (-item.spend, item.customer_id))
    total = sum((item.spend for item in ranked), ZERO)
    before = ZERO
    for rank, item in enumerate(ranked, start=1):
        share_before = before / total
        tier: Tier
        if share_before < policy.platinum_spend_share:
            tier = "platinum"
        elif share_before < policy.top_spend_share:
            tier = "gold"
        else:
            tier = "iron"
        band = {
            "platinum": f"within the first {policy.platinum_spend_share:.0%} of all paid spend",
            "gold": f"within the first {policy.top_spend_share:.0%} of all paid spend",
            "iron": f"outside the customers who make up {policy.top_spend_share:.0%} of paid spend",
        }[tier]
        result[item.customer_id] = TierAssignment(
            tier,
            f"paid spend {_money(item.spend)} in {policy.window_days} days, rank {rank} of {len(ranked)}, "
            f"{share_before:.1%} of spend ranked above: {band}",
        )
        before += item.spend
    return result


def collect_figures(session: Session, *, now: datetime, policy: TierPolicy) -> list[CustomerFigures]:
    """Spend, refunds, complaints and no-shows of every customer within the policy window ending at `now`."""
    since = now - timedelta(days=policy.window_days)
    spend: dict[int, Decimal] = defaultdict(lambda: ZERO)
    refunds: dict[int, Decimal] = defaultdict(lambda: ZERO)
    recent_orders = select(Order.customer_id, Order.status, func.sum(Order.amount)).where(
        Order.placed_at >= since, Order.placed_at <= now
    )
    for customer_id, status, amount in session.execute(recent_orders.group_by(Order.customer_id, Order.status)):
        if status in policy.paid_order_statuses:
            spend[customer_id] += Decimal(amount)
        elif status in policy.lead.refund_order_statuses:
            refunds[customer_id] += Decimal(amount)
    complaints: dict[int, int] = dict(
        session.execute(  # type: ignore[arg-type]
            select(Complaint.customer_id, func.count())
            .where(Complaint.customer_id.is_not(None), Complaint.created_at >= since, Complaint.created_at <= now)
            .group_by(Complaint.customer_id)
        ).all()
    )
    no_shows: dict[int, int] = dict(
        session.execute(  # type: ignore[arg-type]
            select(Booking.customer_id, func.count())
            .where(Booking.status == NO_SHOW, Booking.start_at >= since, Booking.start_at <= now)
            .group_by(Booking.customer_id)
        ).all()
    )
    return [
        CustomerFigures(
            customer_id=customer_id,
            spend=spend[customer_id],
            refunds=refunds[customer_id],
            complaints=int(complaints.get(customer_id, 0)),
            no_shows=int(no_shows.get(customer_id, 0)),
        )
        for customer_id in session.scalars(select(Customer.id).order_by(Customer.id))
    ]


@dataclass(frozen=True)
class RecomputeReport:
    customers: int
    changed: int
    by_tier: dict[str, int]
    won_back: int

    def summary(self) -> str:
        counts = ", ".join(f"{tier} {count}" for tier, count in sorted(self.by_tier.items()))
        return (
            f"Recomputed tiers of {self.customers} customers: {self.changed} changed ({counts}); "
            f"{self.won_back} won back"
        )


def recompute_tiers(
    session: Session, *, now: datetime | None = None, policy: TierPolicy | None = None, changed_by: str = "recompute"
) -> RecomputeReport:
    """Store every customer's computed tier and reason, record changes, refresh churn. Flushes, never commits."""
    now = now or utcnow()
    policy = policy or load_tier_policy()
    figures = collect_figures(session, now=now, policy=policy)
    assignments = assign_tiers(figures, policy)
    spend_by_customer = {item.customer_id: item.spend for item in figures}
    customers = {customer.id: customer for customer in session.scalars(select(Customer))}
    changed = 0
    for customer_id, assignment in assignments.items():
        customer = customers[customer_id]
        if customer.tier != assignment.tier or customer.tier_computed_at is None:
            session.add(
                TierChange(
                    customer_id=customer_id,
                    kind="computed",
                    old_tier=customer.tier if customer.tier_computed_at is not None else None,
                    new_tier=assignment.tier,
                    reason=assignment.reason,
                    changed_by=changed_by,
                    changed_at=now,
                )
            )
            changed += 1
        customer.tier = assignment.tier
        customer.tier_reason = assignment.reason
        customer.trailing_spend = spend_by_customer[customer_id]
        customer.tier_computed_at = now
        customer.updated_at = now  # explicit, so a recompute "as of" a date stamps that date
        flag_modified(customer, "updated_at")  # even when equal, or onupdate would stamp the real clock
    won_back = refresh_churn(session, now=now, policy=policy.churn, paid_order_statuses=policy.paid_order_statuses)
    session.flush()
    by_tier: dict[str, int] = defaultdict(int)
    for assignment in assignments.values():
        by_tier[assignment.tier] += 1
    return RecomputeReport(customers=len(assignments), changed=changed, by_tier=dict(by_tier), won_back=won_back)


def override_tier(
    session: Session, *, customer_id: int, tier: Tier | None, reason: str, changed_by: str, now: datetime | None = None
) -> None:
    """Set (or with tier=None clear) a manual tier that wins over the computed one; the reason is required."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a tier override needs a reason")
    now = now or utcnow()
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    session.add(
        TierChange(
            customer_id=customer_id,
            kind="override" if tier is not None else "override_cleared",
            old_tier=customer.effective_tier,
            new_tier=tier or customer.tier,
            reason=reason,
            changed_by=changed_by,
            changed_at=now,
        )
    )
    customer.tier_override = tier
    customer.tier_override_reason = reason if tier is not None else None
    customer.updated_at = now
    flag_modified(customer, "updated_at")
    session.flush()


class TierChangeOut(Dto):
    kind: str
    old_tier: Tier | None
    new_tier: Tier | None
    reason: str
    changed_by: str
    changed_at: datetime


def tier_history(session: Session, *, customer_id: int) -> list[TierChangeOut]:
    """Every recorded tier change of a customer, oldest first."""
    query = (
        select(TierChange).where(TierChange.customer_id == customer_id).order_by(TierChange.changed_at, TierChange.id)
    )
    return [TierChangeOut.model_validate(change) for change in session.scalars(query)]


__all__ = [
    "CustomerFigures",
    "RecomputeReport",
    "TierAssignment",
    "TierChangeOut",
    "TierPolicy",
    "assign_tiers",
    "collect_figures",
    "load_tier_policy",
    "override_tier",
    "recompute_tiers",
    "tier_history",
]
