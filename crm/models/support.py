"""Complaints, human agents, escalations to them and satisfaction surveys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from crm.enums import COMPLAINT_CATEGORIES, COMPLAINT_SEVERITIES, COMPLAINT_STATUSES, ESCALATION_STATUSES
from crm.models.base import Base, TimestampMixin, enum_check
from crm.types import utcnow


class Agent(TimestampMixin, Base):
    __tablename__ = "agent"
    __table_args__ = (CheckConstraint("max_concurrent > 0", name="max_concurrent_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(32), unique=True)
    # Business codes the agent handles, e.g. ["hotel", "restaurant"].
    skills: Mapped[list[str]]
    max_concurrent: Mapped[int] = mapped_column(default=3, server_default="3")
    active: Mapped[bool] = mapped_column(default=True, server_default=true())


class Complaint(TimestampMixin, Base):
    __tablename__ = "complaint"
    __table_args__ = (
        enum_check("category", COMPLAINT_CATEGORIES),
        enum_check("severity", COMPLAINT_SEVERITIES),
        enum_check("status", COMPLAINT_STATUSES),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_number: Mapped[str] = mapped_column(String(14), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    contact_mobile: Mapped[str | None] = mapped_column(String(11))
    business_id: Mapped[int | None] = mapped_column(ForeignKey("business.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"))
    category: Mapped[str] = mapped_column(String(24))
    severity: Mapped[str] = mapped_column(String(8), default="normal", server_default="normal")
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open", index=True)
    description: Mapped[str] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("order.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("booking.id"))
    due_at: Mapped[datetime]
    handler_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"))
    last_update_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    # Client-supplied retry key, and a hash of (customer, text, day) against double submissions.
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), unique=True)


class Escalation(Base):
    __tablename__ = "escalation"
    __table_args__ = (
        enum_check("status", ESCALATION_STATUSES),
        Index("ix_escalation_status_priority", "status", "priority"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    tier: Mapped[str | None] = mapped_column(ForeignKey("tier_service_level.tier"))
    reason: Mapped[str] = mapped_column(String(255))
    # Copied from the tier's queue_priority when queued; higher = served sooner.
    priority: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), index=True)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class CsatResponse(Base):
    __tablename__ = "csat_response"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
