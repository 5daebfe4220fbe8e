"""Delivery state of outbound messages on push channels (WeChat customer-service API, webhooks).

Every API process hears about every outbound message; exactly one delivers each: the one whose conditional
UPDATE moves the message from "pending" to "sending". A claim is a lease: a process that dies mid-delivery
leaves a "sending" row whose `next_attempt_at` passes, and a sweeper claims it again. A failure schedules a
retry with exponential back-off until `max_attempts`, then the message is "failed" with the last error.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session

from crm.models import Message
from crm.repositories import MessageRepository
from crm.types import utcnow

ERROR_MAX_CHARS = 500


def claim(session: Session, *, message_id: int, lease: timedelta) -> bool:
    """True when this caller now holds the delivery of `message_id` (for `lease`); False when someone else does,
    it was delivered already, it failed for good, or its retry is not due yet."""
    now = utcnow()
    result = session.execute(
        update(Message)
        .where(
            Message.id == message_id,
            or_(
                and_(Message.delivery_state == "pending", Message.next_attempt_at <= now),
                and_(Message.delivery_state == "sending", Message.next_attempt_at <= now),  # lease expired
            ),
        )
        .values(
            delivery_state="sending",
            delivery_attempts=Message.delivery_attempts + 1,
            next_attempt_at=now + lease,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def mark_delivered(session: Session, *, message_id: int) -> None:
    now = utcnow()
    session.execute(
        update(Message)
        .where(Message.id == message_id, Message.delivery_state == "sending")
        .values(delivery_state="delivered", delivered_at=now, next_attempt_at=None, delivery_error=None)
        .execution_options(synchronize_session=False)
    )


def mark_failed_attempt(session: Session, *, message_id: int, error: str, max_attempts: int, backoff: timedelta) -> str:
    """Record a failed attempt: "pending" again after back-off, or "failed" for good after `max_attempts`."""
    message = MessageRepository(session).get(message_id)
    if message is None or message.delivery_state != "sending":
        return message.delivery_state or "" if message is not None else ""
    if message.delivery_attempts >= max_attempts:
        message.delivery_state = "failed"
        message.next_attempt_at = None
    else:
        message.delivery_state = "pending"
        message.next_attempt_at = utcnow() + backoff * (2 ** (message.delivery_attempts - 1))
    message.delivery_error = error[:ERROR_MAX_CHARS]
    session.flush()
    return message.delivery_state


def due(session: Session, *, channels: list[str], limit: int = 100) -> list[int]:
    """Ids of messages on these channels whose (re)try is due."""
    if not channels:
        return []
    return MessageRepository(session).list_due_deliveries(channels, utcnow(), limit)
