"""Customers, the service level each membership tier gets, and the history of tier changes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ColumnElement, ForeignKey, Numeric, String, Text, func
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from crm.enums import CHURN_STATUSES, GENDERS, TIER_CHANGE_KINDS, TIERS
from crm.models.base import Base, TimestampMixin, enum_check
from crm.types import utcnow


class TierServiceLevel(TimestampMixin, Base):
    __tablename__ = "tier_service_level"
    __table_args__ = (enum_check("tier", TIERS),)

    tier: Mapped[str] = mapped_column(String(16), primary_key=True)
    label_zh: Mapped[str] = mapped_column(String(16))
    # Higher value = served sooner in the agent queue.
    queue_priority: Mapped[int]
    first_response_seconds: Mapped[int]
    complaint_response_hours_normal: Mapped[int]
    complaint_response_hours_high: Mapped[int]
    min_lifetime_spend: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    benefits_zh: Mapped[str | None] = mapped_column(Text)


class Customer(TimestampMixin, Base):
    __tablename__ = "customer"
    __table_args__ = (
        enum_check("gender", GENDERS),
        enum_check("churn_status", CHURN_STATUSES),
        CheckConstraint("lifetime_spend >= 0", name="lifetime_spend_non_negative"),
        CheckConstraint("points >= 0", name="points_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    gender: Mapped[str] = mapped_column(String(8), default="unknown", server_default="unknown")
    mobile: Mapped[str] = mapped_column(String(11), unique=True)
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    web_user_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    tier: Mapped[str] = mapped_column(ForeignKey("tier_service_level.tier"), index=True, default="lead")
    tier_override: Mapped[str | None] = mapped_column(ForeignKey("tier_service_level.tier"))
    lifetime_spend: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"), server_default="0")
    points: Mapped[int] = mapped_column(default=0, server_default="0")
    last_visit_at: Mapped[datetime | None]
    city: Mapped[str | None] = mapped_column(String(32))
    # Written by crm.services.tiers.recompute_tiers (policy/tiers.yml); the override is set by ops with a reason.
    tier_reason: Mapped[str | None] = mapped_column(Text)
    tier_override_reason: Mapped[str | None] = mapped_column(Text)
    trailing_spend: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("0"), server_default="0")
    tier_computed_at: Mapped[datetime | None]
    # Churn as of the last recompute; won_back_at is set when a churned customer pays again.
    churn_status: Mapped[str] = mapped_column(String(16), default="no_paid_activity", server_default="no_paid_activity")
    last_paid_activity_at: Mapped[datetime | None]
    won_back_at: Mapped[datetime | None]
    # Suspected abuse, flagged by an agent; the bot never argues, agents see the flag on the card.
    abuse_flagged_at: Mapped[datetime | None]
    abuse_note: Mapped[str | None] = mapped_column(Text)
    abuse_flagged_by: Mapped[str | None] = mapped_column(String(32))

    @hybrid_property
    def effective_tier(self) -> str:
        """The tier service levels use: a manual override wins over the spend-based tier."""
        return self.tier_override or self.tier

    @effective_tier.inplace.expression
    @classmethod
    def _effective_tier_expression(cls) -> ColumnElement[str]:
        return func.coalesce(cls.tier_override, cls.tier)


class TierChange(Base):
    """One change of a customer's tier or tier override: who or what changed it, and why."""

    __tablename__ = "tier_change"
    __table_args__ = (enum_check("kind", TIER_CHANGE_KINDS),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    old_tier: Mapped[str | None] = mapped_column(String(16))
    new_tier: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
