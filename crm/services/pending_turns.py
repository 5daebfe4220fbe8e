"""Turns the bot owes: customer messages no Rasa server could take, answered in order once one can.

The hub holds a message here only when Rasa never saw it (the connection was refused everywhere), so
replaying it cannot run a turn twice. Claims are leases taken with a conditional UPDATE, so with several
API processes each held turn is replayed by exactly one of them; a process that dies mid-replay lets its
lease run out and another takes over. A conversation's turns are replayed oldest first, and never one
while an older one of the same conversation is still waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from crm.models import Conversation, PendingBotTurn
from crm.types import utcnow

DEFAULT_LEASE = timedelta(seconds=30)


@dataclass(frozen=True)
class PendingTurn:
    message_id: int
    conversation_id: int
    rasa_message: str
    attempts: int
    created_at: datetime


def hold(session: Session, *, message_id: int, conversation_id: int, rasa_message: str) -> None:
    """Remember that the bot owes this message an answer (once; holding it again changes nothing)."""
    if session.get(PendingBotTurn, message_id) is None:
        session.add(PendingBotTurn(message_id=message_id, conversation_id=conversation_id, rasa_message=rasa_message))
        session.flush()


def has_waiting(session: Session, *, conversation_id: int) -> bool:
    return bool(
        session.scalar(
            select(exists().where(PendingBotTurn.conversation_id == conversation_id, PendingBotTurn.state == "waiting"))
        )
    )


def claim_next(
    session: Session, *, conversation_id: int | None = None, lease: timedelta = DEFAULT_LEASE
) -> PendingTurn | None:
    """The oldest waiting turn (of one conversation, or of any) that nobody is replaying, leased to the caller.

    Only the oldest waiting turn of its conversation is eligible, so turns are answered in the order sent.
    """
    now = utcnow()
    older = aliased(PendingBotTurn)
    candidates = (
        select(PendingBotTurn.message_id)
        .where(
            PendingBotTurn.state == "waiting",
            or_(PendingBotTurn.claimed_until.is_(None), PendingBotTurn.claimed_until < now),
            ~exists().where(
                and_(
                    older.conversation_id == PendingBotTurn.conversation_id,
                    older.state == "waiting",
                    older.message_id < PendingBotTurn.message_id,
                )
            ),
        )
        .order_by(PendingBotTurn.message_id)
        .limit(5)
    )
    if conversation_id is not None:
        candidates = candidates.where(PendingBotTurn.conversation_id == conversation_id)
    for message_id in session.scalars(candidates).all():
        claimed = session.execute(
            update(PendingBotTurn)
            .where(
                PendingBotTurn.message_id == message_id,
                PendingBotTurn.state == "waiting",
                or_(PendingBotTurn.claimed_until.is_(None), PendingBotTurn.claimed_until < now),
            )
            .values(claimed_until=now + lease, attempts=PendingBotTurn.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            row = session.get_one(PendingBotTurn, message_id, populate_existing=True)
            return PendingTurn(row.message_id, row.conversation_id, row.rasa_message, row.attempts, row.created_at)
    return None


def finish(session: Session, *, message_id: int) -> None:
    """The turn was answered (or handed to someone who will: an agent took the conversation)."""
    session.execute(
        update(PendingBotTurn)
        .where(PendingBotTurn.message_id == message_id)
        .values(state="done", finished_at=utcnow(), claimed_until=None)
        .execution_options(synchronize_session=False)
    )


def release(session: Session, *, message_id: int) -> None:
    """Still no Rasa server: the turn waits for the next pass."""
    session.execute(
        update(PendingBotTurn)
        .where(PendingBotTurn.message_id == message_id, PendingBotTurn.state == "waiting")
        .values(claimed_until=None)
        .execution_options(synchronize_session=False)
    )


def expire_stale(session: Session, *, older_than: timedelta) -> int:
    """Turns held longer than a conversation lives (or whose conversation closed) are given up and counted."""
    cutoff = utcnow() - older_than
    closed = select(Conversation.id).where(Conversation.status != "open")
    result = session.execute(
        update(PendingBotTurn)
        .where(
            PendingBotTurn.state == "waiting",
            or_(PendingBotTurn.created_at < cutoff, PendingBotTurn.conversation_id.in_(closed)),
        )
        .values(state="expired", finished_at=utcnow(), claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
