"""Churn: days since the last paid order or paid visit (policy/tiers.yml `churn`).

Free visits (a completed booking of a service without a price, e.g. a free inspection) do not count.
A customer whose stored status was churned and who has paid since is recorded as won back.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from crm.enums import ChurnStatus
from crm.models import Booking, Customer, Order, Service
from crm.schemas import Dto


class ChurnPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at_risk_after_days: int = Field(gt=0)
    churned_after_days: int = Field(gt=0)

    @model_validator(mode="after")
    def _at_risk_first(self) -> ChurnPolicy:
        if self.at_risk_after_days >= self.churned_after_days:
            raise ValueError("at_risk_after_days must be less than churned_after_days")
        return self


class ChurnOut(Dto):
    status: ChurnStatus
    days_since_paid_activity: int | None
    last_paid_activity_at: datetime | None
    won_back_at: datetime | None
    at_risk: bool
    churned: bool


def churn_status(last_paid_activity_at: datetime | None, *, now: datetime, policy: ChurnPolicy) -> ChurnStatus:
    """active / at_risk / churned by the days since the last paid activity; no_paid_activity when never."""
    if last_paid_activity_at is None:
        return "no_paid_activity"
    idle = now - last_paid_activity_at
    if idle >= timedelta(days=policy.churned_after_days):
        return "churned"
    if idle >= timedelta(days=policy.at_risk_after_days):
        return "at_risk"
    return "active"


def describe_churn(customer: Customer, *, now: datetime, policy: ChurnPolicy) -> ChurnOut:
    """The churn flags of a customer as of `now` (computed live from the stored last paid activity)."""
    status = churn_status(customer.last_paid_activity_at, now=now, policy=policy)
    last = customer.last_paid_activity_at
    return ChurnOut(
        status=status,
        days_since_paid_activity=(now - last).days if last is not None else None,
        last_paid_activity_at=last,
        won_back_at=customer.won_back_at,
        at_risk=status == "at_risk",
        churned=status == "churned",
    )


def last_paid_activity(session: Session, *, now: datetime, paid_order_statuses: Sequence[str]) -> dict[int, datetime]:
    """Per customer: the latest paid order or paid visit up to `now`."""
    latest: dict[int, datetime] = {}
    orders = (
        select(Order.customer_id, func.max(Order.placed_at))
        .where(Order.status.in_(paid_order_statuses), Order.placed_at <= now)
        .group_by(Order.customer_id)
    )
    visits = (
        select(Booking.customer_id, func.max(Booking.start_at))
        .join(Service, Service.id == Booking.service_id)
        .where(Booking.status == "completed", Service.price > 0, Booking.start_at <= now)
        .group_by(Booking.customer_id)
    )
    for query in (orders, visits):
        for customer_id, moment in session.execute(query):
            if moment is None:
                continue
            if customer_id not in latest or moment > latest[customer_id]:
                latest[customer_id] = moment
    return latest


def refresh_churn(session: Session, *, now: datetime, policy: ChurnPolicy, paid_order_statuses: Sequence[str]) -> int:
    """Store every customer's churn status and last paid activity; returns how many were won back now."""
    latest = last_paid_activity(session, now=now, paid_order_statuses=paid_order_statuses)
    won_back = 0
    for customer in session.scalars(select(Customer)):
        last = latest.get(customer.id)
        status = churn_status(last, now=now, policy=policy)
        if customer.churn_status == "churned" and status in ("active", "at_risk"):
            customer.won_back_at = last
            won_back += 1
        if (customer.churn_status, customer.last_paid_activity_at) != (status, last):
            customer.churn_status = status
            customer.last_paid_activity_at = last
            customer.updated_at = now
            flag_modified(customer, "updated_at")  # keep it in the UPDATE even when equal, or onupdate would win
    session.flush()
    return won_back
