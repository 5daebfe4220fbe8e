"""Conversation volume, containment and what the bot understood, for a period.

Rows are selected by UTC bounds in SQL and bucketed into local days in Python, which reads the same on
SQLite and PostgreSQL (their date functions and timezone support differ).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.enums import CHANNELS
from crm.models import Conversation, ConversationOwnerChange, FaqEntry, Message
from crm.services.analytics.nlu import reading_of
from crm.services.analytics.period import Period
from crm.services.analytics.schemas import Count, DayCount

# Handing a conversation to the queue or an agent is what makes it "not contained".
HUMAN_OWNERS = ("queue", "agent")
# Intents whose messages the bot answers by looking up an order.
ORDER_LOOKUP_INTENTS = frozenset({"order_status"})
TOP = 10


@dataclass(frozen=True)
class Traffic:
    conversations: int
    by_day: list[DayCount]
    by_channel: dict[str, int]
    escalated: int
    customer_messages: int
    nlu_messages: int
    fallbacks: int
    top_intents: list[Count]
    top_faq_keys: list[Count]
    order_lookups: int

    @property
    def contained(self) -> int:
        return self.conversations - self.escalated


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def traffic(session: Session, period: Period) -> Traffic:
    started = (Conversation.started_at >= period.start) & (Conversation.started_at < period.end)
    rows = session.execute(select(Conversation.id, Conversation.channel, Conversation.started_at).where(started)).all()
    days: dict[date, Counter[str]] = {day: Counter() for day in period.days()}
    channels: Counter[str] = Counter(dict.fromkeys(CHANNELS, 0))
    for _id, channel, started_at in rows:
        days[period.local_day(started_at)][channel] += 1
        channels[channel] += 1
    escalated = set(
        session.scalars(
            select(ConversationOwnerChange.conversation_id)
            .join(Conversation, Conversation.id == ConversationOwnerChange.conversation_id)
            .where(started, ConversationOwnerChange.to_owner.in_(HUMAN_OWNERS))
        )
    )

    payloads = session.scalars(
        select(Message.payload).where(
            Message.direction == "in",
            Message.sender == "customer",
            Message.created_at >= period.start,
            Message.created_at < period.end,
        )
    ).all()
    intents: Counter[str] = Counter()
    faq_keys: Counter[str] = Counter()
    fallbacks = 0
    for payload in payloads:
        reading = reading_of(payload)
        if reading is None:
            continue
        intents[reading.intent] += 1
        fallbacks += reading.is_fallback
        if reading.faq_key:
            faq_keys[reading.faq_key] += 1

    return Traffic(
        conversations=len(rows),
        by_day=[
            DayCount(day=day, total=sum(counts.values()), by_channel={c: counts[c] for c in CHANNELS})
            for day, counts in days.items()
        ],
        by_channel=dict(channels),
        escalated=len(escalated),
        customer_messages=len(payloads),
        nlu_messages=sum(intents.values()),
        fallbacks=fallbacks,
        top_intents=_top(intents),
        top_faq_keys=_top(faq_keys),
        order_lookups=sum(intents[intent] for intent in ORDER_LOOKUP_INTENTS),
    )


def faq_questions(session: Session, keys: list[str]) -> dict[str, str]:
    """The general (not business- or store-specific) question of each FAQ key."""
    rows = session.execute(
        select(FaqEntry.key, FaqEntry.question_zh).where(
            FaqEntry.key.in_(keys), FaqEntry.business_code.is_(None), FaqEntry.store_id.is_(None)
        )
    ).tuples()
    return dict(rows.all())


def _top(counter: Counter[str]) -> list[Count]:
    # Ties in a stable order (by key) so reports and tests read the same every time.
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return [Count(key=key, count=count) for key, count in ranked[:TOP]]
