"""The customer card agents see next to a conversation: tier and why, churn, spend, orders, bookings,
open complaints, past conversations and their CSAT, and the abuse flag agents set (`flag_abuse`)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.enums import Tier
from crm.errors import NotFoundError
from crm.models import Booking, Conversation, CsatResponse, Customer, Escalation
from crm.repositories import TierRepository
from crm.schemas import Dto, OrderOut
from crm.services.bookings import BookingOut, list_upcoming_bookings
from crm.services.churn import ChurnOut, ChurnPolicy, describe_churn
from crm.services.complaints import ComplaintStatusOut, list_open_complaints
from crm.services.orders import list_orders_for_customer
from crm.services.tiers import load_tier_policy
from crm.types import utcnow

PAST_CONVERSATIONS = 10


class PastConversationOut(Dto):
    conversation_id: int
    channel: str
    started_at: datetime
    status: str
    escalation_reason: str | None
    escalation_outcome: str | None
    csat_score: int | None
    csat_comment: str | None


class AbuseFlagOut(Dto):
    note: str
    flagged_by: str | None
    flagged_at: datetime


class CustomerCardOut(Dto):
    id: int
    name: str
    mobile: str
    city: str | None
    tier: Tier  # effective: the override wins
    tier_label_zh: str
    computed_tier: Tier
    tier_reason: str | None
    tier_override: Tier | None
    tier_override_reason: str | None
    trailing_spend: Decimal
    lifetime_spend: Decimal
    points: int
    churn: ChurnOut
    abuse: AbuseFlagOut | None
    recent_orders: list[OrderOut]
    upcoming_bookings: list[BookingOut]
    bookings_total: int
    open_complaints: list[ComplaintStatusOut]
    past_conversations: list[PastConversationOut]


def _past_conversations(session: Session, customer_id: int, exclude: int | None) -> list[PastConversationOut]:
    conversations = session.scalars(
        select(Conversation)
        .where(Conversation.customer_id == customer_id, Conversation.id != (exclude or 0))
        .order_by(Conversation.started_at.desc(), Conversation.id.desc())
        .limit(PAST_CONVERSATIONS)
    ).all()
    ids = [conversation.id for conversation in conversations]
    ratings = {
        rating.conversation_id: rating
        for rating in session.scalars(select(CsatResponse).where(CsatResponse.conversation_id.in_(ids)))
    }
    escalations: dict[int, Escalation] = {}
    for row in session.scalars(
        select(Escalation).where(Escalation.conversation_id.in_(ids)).order_by(Escalation.queued_at, Escalation.id)
    ):
        escalations[row.conversation_id] = row  # the latest wins
    result = []
    for conversation in conversations:
        escalation = escalations.get(conversation.id)
        rating = ratings.get(conversation.id)
        result.append(
            PastConversationOut(
                conversation_id=conversation.id,
                channel=conversation.channel,
                started_at=conversation.started_at,
                status=conversation.status,
                escalation_reason=escalation.reason if escalation else None,
                escalation_outcome=escalation.outcome if escalation else None,
                csat_score=rating.score if rating else None,
                csat_comment=rating.comment if rating else None,
            )
        )
    return result


def customer_card(
    session: Session,
    *,
    customer_id: int,
    now: datetime | None = None,
    current_conversation_id: int | None = None,
    churn_policy: ChurnPolicy | None = None,
) -> CustomerCardOut:
    """Everything an agent needs about the customer; churn is evaluated as of `now`."""
    now = now or utcnow()
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    level = TierRepository(session).get(customer.effective_tier)
    abuse = (
        AbuseFlagOut(
            note=customer.abuse_note, flagged_by=customer.abuse_flagged_by, flagged_at=customer.abuse_flagged_at
        )
        if customer.abuse_note and customer.abuse_flagged_at
        else None
    )
    bookings_total = int(
        session.scalar(select(func.count()).select_from(Booking).where(Booking.customer_id == customer_id)) or 0
    )
    return CustomerCardOut(
        id=customer.id,
        name=customer.name,
        mobile=customer.mobile,
        city=customer.city,
        tier=customer.effective_tier,  # type: ignore[arg-type]
        tier_label_zh=level.label_zh if level is not None else customer.effective_tier,
        computed_tier=customer.tier,  # type: ignore[arg-type]
        tier_reason=customer.tier_reason,
        tier_override=customer.tier_override,  # type: ignore[arg-type]
        tier_override_reason=customer.tier_override_reason,
        trailing_spend=customer.trailing_spend,
        lifetime_spend=customer.lifetime_spend,
        points=customer.points,
        churn=describe_churn(customer, now=now, policy=churn_policy or load_tier_policy().churn),
        abuse=abuse,
        recent_orders=list_orders_for_customer(session, customer_id=customer_id, limit=5),
        upcoming_bookings=list_upcoming_bookings(session, customer_id=customer_id, now=now, limit=5),
        bookings_total=bookings_total,
        open_complaints=list_open_complaints(session, customer_id=customer_id, limit=5, now=now),
        past_conversations=_past_conversations(session, customer_id, current_conversation_id),
    )


def flag_abuse(session: Session, *, customer_id: int, note: str, flagged_by: str, now: datetime | None = None) -> None:
    """An agent flags suspected abuse on the customer record (shown on the card); an empty note clears it."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    note = note.strip()
    customer.abuse_note = note or None
    customer.abuse_flagged_at = (now or utcnow()) if note else None
    customer.abuse_flagged_by = flagged_by if note else None
    session.flush()
