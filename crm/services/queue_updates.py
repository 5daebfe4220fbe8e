"""Queue-position notices for waiting customers: who has to be told, because their position changed.

The last position a customer was told is read from their transcript (the `queue_position` key of a message's
payload, stamped on the bot's "正在为您转接…" reply and on every notice since), so no process keeps it in
memory and any API process can decide after a claim, a close, a transfer or a new escalation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Escalation, Message
from crm.schemas import Dto
from crm.services import queue
from crm.types import utcnow

POSITION_KEY = "queue_position"


class PositionUpdate(Dto):
    conversation_id: int
    position: int
    ahead: int
    estimated_wait_seconds: int
    previous_position: int | None


def last_told_position(session: Session, *, conversation_id: int, since: datetime) -> int | None:
    """The queue position in the customer's latest notice since `since` (the escalation's queue time)."""
    payloads = session.scalars(
        select(Message.payload)
        .where(
            Message.conversation_id == conversation_id,
            Message.direction == "out",
            Message.created_at >= since,
        )
        .order_by(Message.id.desc())
    )
    for payload in payloads:
        if isinstance(payload, dict) and isinstance(payload.get(POSITION_KEY), int):
            return int(payload[POSITION_KEY])
    return None


def pending_updates(session: Session, *, now: datetime | None = None) -> list[PositionUpdate]:
    """Every waiting conversation whose position differs from the one its customer was last told."""
    now = now or utcnow()
    updates = []
    waiting = session.scalars(select(Escalation).where(Escalation.status == "queued")).all()
    for escalation in waiting:
        position = queue.queue_position(session, conversation_id=escalation.conversation_id, now=now)
        if position is None:
            continue
        told = last_told_position(session, conversation_id=escalation.conversation_id, since=escalation.queued_at)
        if told != position.position:
            updates.append(
                PositionUpdate(
                    conversation_id=escalation.conversation_id,
                    position=position.position,
                    ahead=position.ahead,
                    estimated_wait_seconds=position.estimated_wait_seconds,
                    previous_position=told,
                )
            )
    return sorted(updates, key=lambda update: update.position)


def stamp_position(
    session: Session, *, conversation_id: int, payload: dict[str, object] | None
) -> dict[str, object] | None:
    """`payload` with the conversation's current queue position added (unchanged when it is not waiting): the
    baseline later notices compare with."""
    position = queue.queue_position(session, conversation_id=conversation_id)
    if position is None:
        return payload
    return {**(payload or {}), POSITION_KEY: position.position}
