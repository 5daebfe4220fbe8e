"""Satisfaction ratings after a handoff, and supervisor follow-ups for low ones."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.errors import NotFoundError
from crm.models import Conversation, CsatResponse, Escalation, Message, SupervisorTask
from crm.schemas import Dto
from crm.types import utcnow

LOW_CSAT = 2


class CsatOut(Dto):
    id: int
    conversation_id: int
    escalation_id: int | None
    agent_id: int | None
    score: int
    comment: str | None
    created_at: datetime
    follow_up_task_id: int | None = None


def record_csat(
    session: Session,
    *,
    conversation_id: int,
    score: int,
    comment: str | None = None,
    now: datetime | None = None,
) -> CsatOut:
    """Store the rating with the agent and escalation of the conversation's latest handoff; a score of
    LOW_CSAT or less opens a supervisor follow-up. A repeated rating of the same conversation returns the first."""
    if not 1 <= score <= 5:
        raise ValueError("a rating is 1 to 5")
    now = now or utcnow()
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} does not exist")
    existing = session.scalar(select(CsatResponse).where(CsatResponse.conversation_id == conversation_id))
    if existing is None:
        escalation = session.scalar(
            select(Escalation)
            .where(Escalation.conversation_id == conversation_id)
            .order_by(Escalation.queued_at.desc(), Escalation.id.desc())
            .limit(1)
        )
        candidate = CsatResponse(
            conversation_id=conversation_id,
            customer_id=conversation.customer_id,
            escalation_id=escalation.id if escalation is not None else None,
            agent_id=escalation.agent_id if escalation is not None else None,
            score=score,
            comment=(comment or "").strip() or None,
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(candidate)
                session.flush()
                if score <= LOW_CSAT:
                    session.add(
                        SupervisorTask(
                            kind="low_csat",
                            csat_response_id=candidate.id,
                            escalation_id=candidate.escalation_id,
                            customer_id=candidate.customer_id,
                            agent_id=candidate.agent_id,
                            description=f"rating {score}/5 for conversation {conversation_id}"
                            + (f": {candidate.comment}" if candidate.comment else ""),
                            created_at=now,
                        )
                    )
                    session.flush()
            existing = candidate
        except IntegrityError:
            existing = session.scalar(select(CsatResponse).where(CsatResponse.conversation_id == conversation_id))
            if existing is None:
                raise
    task_id = session.scalar(select(SupervisorTask.id).where(SupervisorTask.csat_response_id == existing.id))
    return CsatOut.model_validate(existing).model_copy(update={"follow_up_task_id": task_id})


def get_csat(session: Session, *, conversation_id: int) -> CsatOut | None:
    """The conversation's rating, with its follow-up task if one was opened."""
    rating = session.scalar(select(CsatResponse).where(CsatResponse.conversation_id == conversation_id))
    if rating is None:
        return None
    task_id = session.scalar(select(SupervisorTask.id).where(SupervisorTask.csat_response_id == rating.id))
    return CsatOut.model_validate(rating).model_copy(update={"follow_up_task_id": task_id})


class SupervisorTaskOut(Dto):
    id: int
    kind: str
    status: str
    description: str
    escalation_id: int | None
    customer_id: int | None
    agent_id: int | None
    created_at: datetime


def list_supervisor_tasks(session: Session, *, status: str = "open", limit: int = 100) -> list[SupervisorTaskOut]:
    """Follow-ups for supervisors (e.g. low ratings), oldest first."""
    query = (
        select(SupervisorTask)
        .where(SupervisorTask.status == status)
        .order_by(SupervisorTask.created_at, SupervisorTask.id)
        .limit(limit)
    )
    return [SupervisorTaskOut.model_validate(task) for task in session.scalars(query)]


def awaiting_rating(session: Session, *, conversation_id: int, message_id: int, late: bool = False) -> bool:
    """Whether customer message `message_id` is the answer to the rating question: the conversation's latest
    handoff was closed by an agent before it, nothing is rated yet, and it is the customer's first message
    since the close (a customer who ignores the question is not asked again). `late`: a rating button pressed
    any time after the close counts too (record_csat keeps the first rating)."""
    escalation = session.scalar(
        select(Escalation)
        .where(Escalation.conversation_id == conversation_id)
        .order_by(Escalation.queued_at.desc(), Escalation.id.desc())
        .limit(1)
    )
    if escalation is None or escalation.status != "closed" or escalation.agent_id is None:
        return False
    if escalation.closed_at is None or escalation.assigned_at is None:
        return False
    message = session.get(Message, message_id)
    if message is None or message.created_at < escalation.closed_at:
        return False
    if late:
        return True
    if session.scalar(select(CsatResponse.id).where(CsatResponse.conversation_id == conversation_id)) is not None:
        return False
    earlier_answers = session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.sender == "customer",
            Message.created_at >= escalation.closed_at,
            Message.id < message_id,
        )
    )
    return not earlier_answers
