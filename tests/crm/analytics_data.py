"""A small hand-made week-end of activity with known figures, added to the seeded CRM (2027-01-10 and -11,
Asia/Shanghai, i.e. UTC+8; the seed's own rows are all older). Shared by the CRM, API and browser tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import (
    Agent,
    Booking,
    Business,
    Complaint,
    Conversation,
    ConversationOwnerChange,
    CsatResponse,
    Customer,
    Escalation,
    Message,
    Store,
)

FIRST, LAST = "2027-01-10", "2027-01-11"
# "now" for the report: c6's escalation is still waiting and not yet overdue.
NOW = datetime(2027, 1, 11, 3, 2, tzinfo=timezone.utc)


def utc(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2027, 1, day, hour, minute, second, tzinfo=timezone.utc)


def add_week_end(session: Session) -> dict[str, Any]:
    """Adds the data set; returns the agents' names by role in it."""
    agents = session.scalars(select(Agent).order_by(Agent.id).limit(2)).all()
    customer = session.scalars(select(Customer).order_by(Customer.id).limit(1)).one()
    business = {b.code: b for b in session.scalars(select(Business))}
    hotel_store = session.scalars(select(Store).where(Store.business_id == business["hotel"].id).limit(1)).one()

    def conversation(key: str, channel: str, started: datetime) -> Conversation:
        row = Conversation(
            channel=channel, channel_user_id=f"analytics-{key}", rasa_sender_id=f"analytics-{key}", started_at=started
        )
        row.status = "closed"
        session.add(row)
        session.flush()
        return row

    def said(conv: Conversation, at: datetime, text: str, intent: str | None = None, **nlu: Any) -> None:
        payload = {"nlu": {"intent": intent, **nlu}} if intent else None
        session.add(
            Message(
                conversation_id=conv.id, direction="in", sender="customer", text=text, payload=payload, created_at=at
            )
        )

    def handed(conv: Conversation, at: datetime, *owners: str) -> None:
        previous = "bot"
        for owner in owners:
            session.add(
                ConversationOwnerChange(
                    conversation_id=conv.id,
                    from_owner=previous,
                    to_owner=owner,
                    reason="test",
                    actor="bot",
                    created_at=at,
                )
            )
            previous = owner

    # Day 1 (2027-01-10 local): a bot-only web chat and a WeChat chat handed to an agent late in the evening.
    c1 = conversation("c1", "web", utc(10, 1))
    said(c1, utc(10, 1), "你好", "greet", confidence=0.98)
    said(c1, utc(10, 1, 1), "你们几点营业", "faq", confidence=0.9, faq_key="business_hours")
    c2 = conversation("c2", "wechat", utc(10, 15, 30))
    said(c2, utc(10, 15, 40), "人呢")  # to the agent: the bot never read it
    handed(c2, utc(10, 15, 31), "queue", "agent")
    e2 = Escalation(
        conversation_id=c2.id, tier="gold", reason="customer asked for a person", priority=2, status="closed",
        agent_id=agents[0].id, business_code="hotel", queued_at=utc(10, 15, 31), sla_seconds=120,
        sla_due_at=utc(10, 15, 33), first_response_at=utc(10, 15, 32), closed_at=utc(10, 15, 50),
    )  # fmt: skip
    # Day 2 (2027-01-11 local) starts at 16:00 UTC on the 10th.
    c3 = conversation("c3", "web", utc(10, 16, 30))
    handed(c3, utc(10, 16, 31), "queue", "agent")
    e3 = Escalation(
        conversation_id=c3.id, tier="platinum", reason="complaint", priority=4, status="closed",
        agent_id=agents[1].id, business_code="restaurant", queued_at=utc(10, 16, 31), sla_seconds=60,
        sla_due_at=utc(10, 16, 32), first_response_at=utc(10, 16, 34), sla_breached_at=utc(10, 16, 32),
        closed_at=utc(10, 17),
    )  # fmt: skip
    # Outside the range (23:59 local on the 9th).
    c4 = conversation("c4", "web", utc(9, 15, 59))
    said(c4, utc(9, 15, 59), "你好", "greet", confidence=0.99)
    c5 = conversation("c5", "web", utc(11, 2))
    said(c5, utc(11, 2), "asdfgh", "nlu_fallback", confidence=0.2)
    said(c5, utc(11, 2, 1), "我的订单到哪了", "order_status", confidence=0.95)
    c6 = conversation("c6", "web", utc(11, 3))
    handed(c6, utc(11, 3), "queue")
    e6 = Escalation(
        conversation_id=c6.id, tier=None, reason="customer asked for a person", priority=1, status="queued",
        queued_at=utc(11, 3), sla_seconds=300, sla_due_at=utc(11, 3, 5),
    )  # fmt: skip
    session.add_all([e2, e3, e6])
    session.flush()
    for conv, escalation, score, at in ((c2, e2, 5, utc(10, 15, 51)), (c3, e3, 2, utc(10, 17, 1))):
        session.add(
            CsatResponse(
                conversation_id=conv.id, escalation_id=escalation.id, agent_id=escalation.agent_id, score=score,
                created_at=at,
            )
        )  # fmt: skip
    session.add(
        Booking(
            booking_number="YY202701100901", customer_id=customer.id, business_id=business["hotel"].id,
            store_id=hotel_store.id, start_at=utc(20, 6), end_at=utc(21, 4), nights=1, party_size=2,
            room_type="standard", created_at=utc(10, 1, 2),
        )
    )  # fmt: skip
    for number, code, category, severity, status, at in (
        ("TS202701100001", "hotel", "service_attitude", "high", "open", utc(10, 15, 45)),
        ("TS202701110001", "restaurant", "hygiene", "normal", "resolved", utc(10, 16, 40)),
        ("TS202701110002", None, "delivery", "normal", "in_progress", utc(11, 2, 30)),
        ("TS202701090001", "hotel", "billing", "normal", "open", utc(9, 12)),  # before the range
    ):
        session.add(
            Complaint(
                ticket_number=number, business_id=business[code].id if code else None, category=category,
                severity=severity, status=status, description=f"测试反馈 {number}", due_at=at + timedelta(hours=24),
                created_at=at,
            )
        )  # fmt: skip
    session.flush()
    return {"first_agent": agents[0].name, "second_agent": agents[1].name}
