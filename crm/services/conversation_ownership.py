"""Who owns a conversation (bot → queue → agent → bot), and when it ends. The only writer of both.

Every owner change is a conditional UPDATE on the owner the caller saw, so two agents claiming the same
conversation cannot both win, and each change is recorded in `conversation_owner_change`.
The hub only reads the owner.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.orm import Session

from crm.enums import CONVERSATION_CLOSE_REASONS
from crm.errors import NotFoundError, OwnershipConflictError
from crm.models import Conversation, ConversationOwnerChange
from crm.repositories import ConversationRepository
from crm.schemas import ConversationOut, OwnerChangeOut
from crm.types import utcnow

logger = logging.getLogger(__name__)

# (from, to): bot → queue (escalation), queue → agent (claim), agent → agent (transfer), agent/queue → bot (handoff
# ends or the customer gives up waiting), bot → agent (an agent picks a conversation up directly).
ALLOWED_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("bot", "queue"),
        ("bot", "agent"),
        ("queue", "agent"),
        ("queue", "bot"),
        ("agent", "agent"),
        ("agent", "queue"),
        ("agent", "bot"),
    }
)


def _require(session: Session, conversation_id: int) -> Conversation:
    conversation = ConversationRepository(session).get(conversation_id)
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} does not exist")
    return conversation


def change_owner(
    session: Session,
    *,
    conversation_id: int,
    to_owner: str,
    reason: str,
    actor: str,
    agent_id: int | None = None,
    expected_owner: str | None = None,
) -> ConversationOut:
    """Move the conversation to `to_owner` (an agent needs `agent_id`) and record the change.

    `expected_owner` (default: the owner read now) must still be the owner when the UPDATE runs; otherwise
    OwnershipConflictError, e.g. a second agent claiming a conversation already claimed.
    """
    if (to_owner == "agent") != (agent_id is not None):
        raise ValueError("agent_id is required exactly when the new owner is an agent")
    conversation = _require(session, conversation_id)
    if conversation.status != "open":
        raise OwnershipConflictError(f"conversation {conversation_id} is closed")
    from_owner = expected_owner or conversation.owner
    from_agent_id = conversation.assigned_agent_id
    if (from_owner, to_owner) not in ALLOWED_TRANSITIONS:
        raise OwnershipConflictError(f"conversation {conversation_id}: {from_owner} → {to_owner} is not allowed")
    if from_owner == to_owner == "agent" and from_agent_id == agent_id:
        raise OwnershipConflictError(f"conversation {conversation_id} is already with agent {agent_id}")
    conditions = [Conversation.id == conversation_id, Conversation.status == "open", Conversation.owner == from_owner]
    if from_owner == "agent":
        conditions.append(Conversation.assigned_agent_id == from_agent_id)
    result = session.execute(
        update(Conversation)
        .where(*conditions)
        .values(owner=to_owner, assigned_agent_id=agent_id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise OwnershipConflictError(f"conversation {conversation_id} is no longer owned by {from_owner}")
    session.add(
        ConversationOwnerChange(
            conversation_id=conversation_id,
            from_owner=from_owner,
            to_owner=to_owner,
            agent_id=agent_id,
            reason=reason,
            actor=actor,
            created_at=utcnow(),
        )
    )
    session.flush()
    session.refresh(conversation)
    return ConversationOut.model_validate(conversation)


def close_conversation(session: Session, *, conversation_id: int, reason: str, actor: str) -> ConversationOut:
    """End the conversation (the owner stays as it was, for the record); the next message opens a new one.

    `actor` is logged; closing an already closed conversation is a no-op that returns it unchanged.
    """
    if reason not in CONVERSATION_CLOSE_REASONS:
        raise ValueError(f"close reason must be one of {CONVERSATION_CLOSE_REASONS}, got {reason!r}")
    conversation = _require(session, conversation_id)
    _close_where(session, Conversation.id == conversation_id, reason=reason)
    logger.info("conversation %s closed (%s) by %s", conversation_id, reason, actor)
    session.refresh(conversation)
    return ConversationOut.model_validate(conversation)


def is_idle(conversation: ConversationOut | Conversation, *, idle_for: timedelta, now: datetime | None = None) -> bool:
    """A bot-owned conversation with no message for `idle_for` (queue and agent conversations never idle out)."""
    last_activity = conversation.last_message_at or conversation.started_at
    return conversation.owner == "bot" and last_activity <= (now or utcnow()) - idle_for


def close_idle_conversations(
    session: Session, *, idle_for: timedelta, now: datetime | None = None, limit: int = 500
) -> list[int]:
    """Close bot-owned conversations idle for `idle_for` or longer; returns their ids.

    Conversations with the queue or an agent are left alone: a waiting customer or an open handoff ends by the
    queue's rules or an agent's close, not by a timer here. The UPDATE re-checks idleness, so a message stored
    meanwhile keeps its conversation open.
    """
    cutoff = (now or utcnow()) - idle_for
    closed = []
    for conversation in ConversationRepository(session).list_idle_open("bot", cutoff, limit):
        still_idle = or_(
            Conversation.last_message_at <= cutoff,
            Conversation.last_message_at.is_(None) & (Conversation.started_at <= cutoff),
        )
        if _close_where(
            session, Conversation.id == conversation.id, Conversation.owner == "bot", still_idle, reason="idle"
        ):
            closed.append(conversation.id)
    return closed


def _close_where(session: Session, *conditions: ColumnElement[bool], reason: str) -> bool:
    result = session.execute(
        update(Conversation)
        .where(Conversation.status == "open", *conditions)
        .values(status="closed", closed_at=utcnow(), close_reason=reason)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def owner_history(session: Session, *, conversation_id: int) -> list[OwnerChangeOut]:
    """Every owner change of the conversation, oldest first."""
    _require(session, conversation_id)
    return [
        OwnerChangeOut.model_validate(change)
        for change in ConversationRepository(session).list_owner_changes(conversation_id)
    ]
