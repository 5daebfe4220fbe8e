"""Customers and the service level each membership tier gets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ColumnElement, ForeignKey, Numeric, String, Text, func
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column

from crm.enums import GENDERS, TIERS
from crm.models.base import Base, TimestampMixin, enum_check


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

    @hybrid_property
    def effective_tier(self) -> str:
        """The tier service levels use: a manual override wins over the spend-based tier."""
        return self.tier_override or self.tier

    @effective_tier.inplace.expression
    @classmethod
    def _effective_tier_expression(cls) -> ColumnElement[str]:
        return func.coalesce(cls.tier_override, cls.tier)
