"""The analytics report for a period: every dashboard figure in one DTO, and the department feedback report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crm.services.analytics.feedback import (
    bookings_made,
    business_names,
    category_names,
    complaint_groups,
    complaints_opened,
    feedback_items,
)
from crm.services.analytics.period import Period
from crm.services.analytics.schemas import AnalyticsOut, BotOutcomes, FeedbackOut
from crm.services.analytics.service_levels import satisfaction, service_levels, tier_labels
from crm.services.analytics.traffic import faq_questions, rate, traffic
from crm.types import utcnow


def analytics_report(session: Session, period: Period, *, now: datetime | None = None) -> AnalyticsOut:
    now = now or utcnow()
    names = business_names(session)
    volume = traffic(session, period)
    levels = service_levels(session, period, now=now)
    ratings = satisfaction(session, period)
    complaints = complaint_groups(feedback_items(session, period))
    return AnalyticsOut(
        period_from=period.first,
        period_to=period.last,
        timezone=str(period.tz),
        conversations=volume.conversations,
        conversations_by_day=volume.by_day,
        conversations_by_channel=volume.by_channel,
        contained=volume.contained,
        escalated=volume.escalated,
        containment_rate=rate(volume.contained, volume.conversations),
        escalation_rate=rate(volume.escalated, volume.conversations),
        escalations=levels.escalations,
        escalations_by_tier=levels.by_tier,
        escalations_by_reason=levels.by_reason,
        customer_messages=volume.customer_messages,
        nlu_messages=volume.nlu_messages,
        fallbacks=volume.fallbacks,
        fallback_rate=rate(volume.fallbacks, volume.nlu_messages),
        top_intents=volume.top_intents,
        top_faq_keys=volume.top_faq_keys,
        first_response=levels.first_response,
        sla_compliance={tier: times.sla_rate for tier, times in levels.first_response.items()},
        csat_responses=ratings.responses,
        csat_average=ratings.average,
        csat_distribution=ratings.distribution,
        csat_by_agent=ratings.by_agent,
        csat_by_business=[group.model_copy(update={"label": names.get(group.key)}) for group in ratings.by_business],
        bot=BotOutcomes(
            bookings_made=bookings_made(session, period),
            orders_looked_up=volume.order_lookups,
            complaints_opened=complaints_opened(session, period),
        ),
        complaints_by_business=complaints,
        businesses=names,
        tiers=tier_labels(session),
        faq_questions=faq_questions(session, [item.key for item in volume.top_faq_keys]),
        complaint_categories=category_names(),
    )


def feedback_report(session: Session, period: Period, *, business: str | None = None) -> FeedbackOut:
    """The complaints of the period for one department (`business` code, or every department)."""
    items = feedback_items(session, period, business=business)
    return FeedbackOut(
        period_from=period.first,
        period_to=period.last,
        business=business,
        departments=complaint_groups(items),
        items=items,
    )
