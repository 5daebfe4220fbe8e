"""Complaints by business and category: the feedback report each department receives, and what the bot did.

Bookings and complaints are only created by the bot's actions today (actions/bookings.py, actions/complaints.py),
so every row created in the period counts as the bot's work.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.enums import COMPLAINT_CATEGORIES
from crm.models import Booking, Business, Complaint, Store
from crm.services.analytics.period import Period
from crm.services.analytics.schemas import ComplaintGroup, FeedbackItem
from crm.services.complaint_rules import load_rules

# Complaints without a business (e.g. about the service desk itself) go to the customer-service department.
NO_BUSINESS = "general"
OPEN_STATUSES = frozenset({"open", "in_progress"})


def business_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Business.code, Business.name_zh).order_by(Business.id)).tuples().all())


def bookings_made(session: Session, period: Period) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.created_at >= period.start, Booking.created_at < period.end)
        )
        or 0
    )


def complaints_opened(session: Session, period: Period) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Complaint)
            .where(Complaint.created_at >= period.start, Complaint.created_at < period.end)
        )
        or 0
    )


def feedback_items(session: Session, period: Period, *, business: str | None = None) -> list[FeedbackItem]:
    """Complaints opened in the period, oldest first; only `business`'s when given (NO_BUSINESS: none)."""
    query = (
        select(Complaint, Business.code, Business.name_zh, Store.name)
        .outerjoin(Business, Business.id == Complaint.business_id)
        .outerjoin(Store, Store.id == Complaint.store_id)
        .where(Complaint.created_at >= period.start, Complaint.created_at < period.end)
        .order_by(Complaint.created_at, Complaint.id)
    )
    if business == NO_BUSINESS:
        query = query.where(Complaint.business_id.is_(None))
    elif business is not None:
        query = query.where(Business.code == business)
    rules = load_rules()
    items = []
    for complaint, code, name, store in session.execute(query).tuples():
        items.append(
            FeedbackItem(
                ticket_number=complaint.ticket_number,
                created_at=_local(period, complaint.created_at),
                business=code or NO_BUSINESS,
                business_name=name,
                store=store,
                category=complaint.category,
                category_name=rules.category(complaint.category).label_zh,
                severity=complaint.severity,
                status=complaint.status,
                status_name=rules.status_labels[complaint.status],
                description=complaint.description,
                due_at=_local(period, complaint.due_at),
                resolved_at=_local(period, complaint.resolved_at) if complaint.resolved_at else None,
            )
        )
    return items


def category_names() -> dict[str, str]:
    return {rule.code: rule.label_zh for rule in load_rules().categories}


def complaint_groups(items: list[FeedbackItem]) -> list[ComplaintGroup]:
    """One group per department, every category listed (zero included), the busiest department first."""
    grouped: dict[str, list[FeedbackItem]] = defaultdict(list)
    for item in items:
        grouped[item.business].append(item)
    groups = []
    for code, rows in grouped.items():
        categories = Counter(row.category for row in rows)
        groups.append(
            ComplaintGroup(
                business=code,
                business_name=rows[0].business_name,
                total=len(rows),
                high_severity=sum(row.severity == "high" for row in rows),
                open=sum(row.status in OPEN_STATUSES for row in rows),
                by_category={category: categories[category] for category in COMPLAINT_CATEGORIES},
            )
        )
    return sorted(groups, key=lambda group: (-group.total, group.business))


def _local(period: Period, moment: datetime) -> str:
    return moment.astimezone(period.tz).strftime("%Y-%m-%d %H:%M")
