"""What the analytics queries return (DTOs; rates are 0..1, or None when nothing was there to count)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel


class DayCount(BaseModel):
    day: date
    total: int
    by_channel: dict[str, int]


class Count(BaseModel):
    key: str
    count: int


class ResponseTimes(BaseModel):
    """First-response times (queue to the agent's first reply) of one tier's escalations, in seconds."""

    escalations: int
    answered: int
    p50_seconds: int | None
    p90_seconds: int | None
    max_seconds: int | None
    sla_met: int
    sla_breached: int
    sla_pending: int
    sla_rate: float | None


class CsatGroup(BaseModel):
    key: str
    label: str | None
    responses: int
    average: float | None
    # "1".."5" -> number of ratings with that score.
    distribution: dict[str, int]


class BotOutcomes(BaseModel):
    bookings_made: int
    orders_looked_up: int
    complaints_opened: int


class ComplaintGroup(BaseModel):
    business: str
    business_name: str | None
    total: int
    high_severity: int
    open: int
    by_category: dict[str, int]


class AnalyticsOut(BaseModel):
    period_from: date
    period_to: date
    timezone: str
    conversations: int
    conversations_by_day: list[DayCount]
    conversations_by_channel: dict[str, int]
    contained: int
    escalated: int
    containment_rate: float | None
    escalation_rate: float | None
    escalations: int
    escalations_by_tier: dict[str, int]
    escalations_by_reason: list[Count]
    customer_messages: int
    nlu_messages: int
    fallbacks: int
    fallback_rate: float | None
    top_intents: list[Count]
    top_faq_keys: list[Count]
    first_response: dict[str, ResponseTimes]
    # tier -> share of decided escalations answered within the tier's SLA (None: none decided).
    sla_compliance: dict[str, float | None]
    csat_responses: int
    csat_average: float | None
    csat_distribution: dict[str, int]
    csat_by_agent: list[CsatGroup]
    csat_by_business: list[CsatGroup]
    bot: BotOutcomes
    complaints_by_business: list[ComplaintGroup]
    # Labels for the codes above, from the CRM (businesses) and crm/seed/data/complaints.yml (categories).
    businesses: dict[str, str]
    tiers: dict[str, str]
    # FAQ key -> the general entry's question (crm faq_entry), for the keys in top_faq_keys.
    faq_questions: dict[str, str]
    complaint_categories: dict[str, str]


class FeedbackItem(BaseModel):
    """One complaint as its department reads it in the weekly feedback report (no customer contact data)."""

    ticket_number: str
    created_at: str
    business: str
    business_name: str | None
    store: str | None
    category: str
    category_name: str
    severity: str
    status: str
    status_name: str
    description: str
    due_at: str
    resolved_at: str | None


class FeedbackOut(BaseModel):
    period_from: date
    period_to: date
    business: str | None
    departments: list[ComplaintGroup]
    items: list[FeedbackItem]
