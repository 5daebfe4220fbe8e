"""Complaints, human agents and staff accounts, escalations to agents, and satisfaction surveys."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, text, true
from sqlalchemy.orm import Mapped, mapped_column

from crm.enums import (
    COMPENSATION_KINDS,
    COMPLAINT_CATEGORIES,
    COMPLAINT_SEVERITIES,
    COMPLAINT_STATUSES,
    ESCALATION_OUTCOMES,
    ESCALATION_STATUSES,
    STAFF_ROLES,
    SUPERVISOR_TASK_STATUSES,
)
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
    # Agent groups an escalation can be routed to, e.g. ["vip"] for the senior/VIP desk.
    groups: Mapped[list[str]] = mapped_column(default=list, server_default="[]")


class StaffAccount(TimestampMixin, Base):
    """A login for the agent console: an agent (linked to its agent row), a supervisor or ops."""

    __tablename__ = "staff_account"
    __table_args__ = (enum_check("role", STAFF_ROLES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(32))
    # argon2id hash (argon2-cffi), never the password.
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), unique=True)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())


class ServiceDesk(TimestampMixin, Base):
    """The group's customer-service desk: hotlines and the hours human agents are on duty (one row)."""

    __tablename__ = "service_desk"

    id: Mapped[int] = mapped_column(primary_key=True)
    hotline: Mapped[str] = mapped_column(String(32))
    complaint_hotline: Mapped[str] = mapped_column(String(32))
    # {"mon": [["08:30", "22:00"]], ...}: the same shape as store.opening_hours, in settings.timezone.
    service_hours: Mapped[dict[str, Any]]
    service_hours_text_zh: Mapped[str] = mapped_column(String(128))


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


_OPEN_ESCALATION = text("status IN ('queued', 'assigned')")


class Escalation(Base):
    __tablename__ = "escalation"
    __table_args__ = (
        enum_check("status", ESCALATION_STATUSES),
        enum_check("outcome", ESCALATION_OUTCOMES),
        Index("ix_escalation_status_priority", "status", "priority"),
        # At most one open escalation per conversation: a retried enqueue finds the existing one.
        Index(
            "uq_escalation_open_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=_OPEN_ESCALATION,
            postgresql_where=_OPEN_ESCALATION,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    tier: Mapped[str | None] = mapped_column(ForeignKey("tier_service_level.tier"))
    reason: Mapped[str] = mapped_column(String(255))
    # From the tier's rule in policy/escalation.yml when queued; higher = served sooner.
    priority: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), index=True)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Routing: the business the conversation is about (agent skill) and the agent group of the tier's rule.
    business_code: Mapped[str | None] = mapped_column(String(32))
    agent_group: Mapped[str | None] = mapped_column(String(32))
    # First-response SLA from policy/escalation.yml; breached_at is set once when it is missed.
    sla_seconds: Mapped[int | None]
    sla_due_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    sla_breached_at: Mapped[datetime | None]
    summary: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(16))
    callback_at: Mapped[datetime | None]


class EscalationNote(Base):
    """An internal note on an escalation (agents and supervisors only; never sent to the customer)."""

    __tablename__ = "escalation_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id"), index=True)
    author: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CompensationOffer(Base):
    """A goodwill offer recorded by an agent: a coupon (CNY) or points credited to the customer."""

    __tablename__ = "compensation_offer"
    __table_args__ = (
        enum_check("kind", COMPENSATION_KINDS),
        CheckConstraint(
            "(kind = 'coupon' AND coupon_amount > 0 AND points IS NULL)"
            " OR (kind = 'points' AND points > 0 AND coupon_amount IS NULL)",
            name="one_value",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalation.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"))
    kind: Mapped[str] = mapped_column(String(8))
    coupon_amount: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    points: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CsatResponse(Base):
    __tablename__ = "csat_response"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalation.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), index=True)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SupervisorTask(Base):
    """A follow-up for a supervisor, e.g. after a rating of 2 or less; one per CSAT response."""

    __tablename__ = "supervisor_task"
    __table_args__ = (enum_check("status", SUPERVISOR_TASK_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    csat_response_id: Mapped[int | None] = mapped_column(ForeignKey("csat_response.id"), unique=True)
    escalation_id: Mapped[int | None] = mapped_column(ForeignKey("escalation.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"))
    status: Mapped[str] = mapped_column(String(8), default="open", server_default="open")
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
