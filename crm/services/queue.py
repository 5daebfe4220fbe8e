"""The agent queue on the `escalation` table: enqueue, serving order, claim, SLA, transfer, notes,
compensation, close, CSAT and abuse flags.

Serving order: priority (higher first), then waiting time (longest first). An open escalation (queued or
assigned) is unique per conversation (partial unique index), so a retried enqueue returns the existing one.
A claim is a compare-and-set on status='queued' under a lock on the agent row, so two agents never both get
a conversation and an agent never exceeds `max_concurrent`, even with several API processes.
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.enums import ESCALATION_OUTCOMES, OPEN_ESCALATION_STATUSES, EscalationOutcome, Tier
from crm.errors import NotFoundError
from crm.models import (
    Agent,
    CompensationOffer,
    Conversation,
    Customer,
    Escalation,
    EscalationNote,
)
from crm.schemas import Dto
from crm.services import conversation_ownership
from crm.services.escalation_rules import (
    WEEKDAY_KEYS,
    Counters,
    Decision,
    ServiceDeskHours,
    Signal,
    decide,
    load_escalation_rules,
    load_service_desk,
)
from crm.types import utcnow

# Used for the estimated wait until enough conversations have been handled to measure it.
DEFAULT_HANDLING_SECONDS = 300
HANDLING_SAMPLE = 50


class QueueError(Exception):
    """A queue operation that cannot be done as asked; the message says why (English, for staff)."""


class AlreadyClaimedError(QueueError):
    """Someone else has the conversation."""


class AgentAtCapacityError(QueueError):
    """The agent already handles max_concurrent conversations."""


class SkillMismatchError(QueueError):
    """The agent lacks the conversation's business skill or the escalation's agent group."""


class EscalationClosedError(QueueError):
    """The escalation is closed (or not open in the state the operation needs)."""


class EscalationOut(Dto):
    id: int
    conversation_id: int
    customer_id: int | None
    tier: Tier | None
    reason: str
    priority: int
    status: str
    agent_id: int | None
    business_code: str | None
    agent_group: str | None
    queued_at: datetime
    assigned_at: datetime | None
    closed_at: datetime | None
    sla_seconds: int | None
    sla_due_at: datetime | None
    first_response_at: datetime | None
    sla_breached_at: datetime | None
    summary: str | None
    outcome: EscalationOutcome | None
    callback_at: datetime | None


class QueueItem(Dto):
    escalation_id: int
    conversation_id: int
    customer_id: int | None
    tier: Tier | None
    priority: int
    reason: str
    business_code: str | None
    agent_group: str | None
    waiting_seconds: int
    sla_due_at: datetime | None
    sla_breached: bool
    first_response_at: datetime | None = None


class QueuePosition(Dto):
    position: int  # 1 = next to be served
    ahead: int
    estimated_wait_seconds: int


class NoteOut(Dto):
    id: int
    escalation_id: int
    author: str
    text: str
    created_at: datetime


class CompensationOut(Dto):
    id: int
    escalation_id: int
    customer_id: int
    agent_id: int | None
    kind: str
    coupon_amount: Decimal | None
    points: int | None
    note: str | None
    created_at: datetime


def _seconds(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds()))


def _require(session: Session, escalation_id: int) -> Escalation:
    escalation = session.get(Escalation, escalation_id)
    if escalation is None:
        raise NotFoundError(f"escalation {escalation_id} does not exist")
    return escalation


def _open_for(session: Session, conversation_id: int) -> Escalation | None:
    return session.scalar(
        select(Escalation).where(
            Escalation.conversation_id == conversation_id, Escalation.status.in_(OPEN_ESCALATION_STATUSES)
        )
    )


def open_escalation(session: Session, *, conversation_id: int) -> EscalationOut | None:
    """The queued or assigned escalation of a conversation, or None."""
    escalation = _open_for(session, conversation_id)
    return EscalationOut.model_validate(escalation) if escalation is not None else None


def latest_escalation(session: Session, *, conversation_id: int) -> EscalationOut | None:
    """The most recent escalation of a conversation (open or closed), or None."""
    escalation = session.scalar(
        select(Escalation)
        .where(Escalation.conversation_id == conversation_id)
        .order_by(Escalation.queued_at.desc(), Escalation.id.desc())
        .limit(1)
    )
    return EscalationOut.model_validate(escalation) if escalation is not None else None


def _hand_conversation(
    session: Session, conversation_id: int, *, to_owner: str, reason: str, actor: str, agent_id: int | None = None
) -> None:
    """Keeps the conversation's owner in step with its escalation: the hub routes by the owner (the bot is silent
    while the queue or an agent has it). Ownership changes only through conversation_ownership, which records them."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.status != "open":
        return
    if conversation.owner == to_owner and conversation.assigned_agent_id == agent_id:
        return
    conversation_ownership.change_owner(
        session, conversation_id=conversation_id, to_owner=to_owner, reason=reason[:64], actor=actor, agent_id=agent_id
    )


def enqueue(
    session: Session,
    *,
    conversation_id: int,
    decision: Decision,
    business_code: str | None = None,
    now: datetime | None = None,
) -> tuple[EscalationOut, bool]:
    """Queue a conversation as `decision` says; (escalation, created). A retry returns the open one, False."""
    if decision.action != "escalate":
        raise ValueError(f"only an 'escalate' decision is queued, got {decision.action!r}")
    now = now or utcnow()
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} does not exist")
    existing = _open_for(session, conversation_id)
    if existing is not None:
        return EscalationOut.model_validate(existing), False
    customer = session.get(Customer, conversation.customer_id) if conversation.customer_id is not None else None
    candidate = Escalation(
        conversation_id=conversation_id,
        customer_id=conversation.customer_id,
        tier=customer.effective_tier if customer is not None else decision.tier,
        reason=decision.reason[:255],
        priority=decision.priority,
        status="queued",
        business_code=business_code,
        agent_group=decision.group,
        queued_at=now,
        sla_seconds=decision.sla_seconds,
        sla_due_at=now + timedelta(seconds=decision.sla_seconds) if decision.sla_seconds is not None else None,
    )
    try:
        with session.begin_nested():
            session.add(candidate)
            session.flush()
    except IntegrityError:
        # A concurrent retry queued it first (partial unique index): return the winner's row.
        existing = _open_for(session, conversation_id)
        if existing is None:
            raise
        return EscalationOut.model_validate(existing), False
    _hand_conversation(session, conversation_id, to_owner="queue", reason=decision.reason, actor="bot")
    return EscalationOut.model_validate(candidate), True


def _queued(session: Session) -> list[Escalation]:
    return list(
        session.scalars(
            select(Escalation)
            .where(Escalation.status == "queued")
            .order_by(Escalation.priority.desc(), Escalation.queued_at, Escalation.id)
        )
    )


def _is_breached(escalation: Escalation, now: datetime) -> bool:
    if escalation.sla_breached_at is not None:
        return True
    return escalation.first_response_at is None and escalation.sla_due_at is not None and now > escalation.sla_due_at


def _queue_item(escalation: Escalation, now: datetime) -> QueueItem:
    return QueueItem(
        escalation_id=escalation.id,
        conversation_id=escalation.conversation_id,
        customer_id=escalation.customer_id,
        tier=escalation.tier,  # type: ignore[arg-type]
        priority=escalation.priority,
        reason=escalation.reason,
        business_code=escalation.business_code,
        agent_group=escalation.agent_group,
        waiting_seconds=_seconds(now - escalation.queued_at),
        sla_due_at=escalation.sla_due_at,
        sla_breached=_is_breached(escalation, now),
    )


def list_queue(session: Session, *, now: datetime | None = None) -> list[QueueItem]:
    """Every waiting conversation in serving order."""
    now = now or utcnow()
    return [_queue_item(escalation, now) for escalation in _queued(session)]


def list_assigned(session: Session, *, agent_id: int, now: datetime | None = None) -> list[QueueItem]:
    """The conversations an agent is serving now, longest-waiting first (the console's "my conversations")."""
    now = now or utcnow()
    query = (
        select(Escalation)
        .where(Escalation.status == "assigned", Escalation.agent_id == agent_id)
        .order_by(Escalation.queued_at, Escalation.id)
    )
    return [
        _queue_item(escalation, now).model_copy(update={"first_response_at": escalation.first_response_at})
        for escalation in session.scalars(query)
    ]


def average_handling_seconds(session: Session) -> int:
    """Mean assigned-to-closed time of the latest closed escalations (a default until there are any)."""
    rows = session.execute(
        select(Escalation.assigned_at, Escalation.closed_at)
        .where(Escalation.status == "closed", Escalation.assigned_at.is_not(None), Escalation.closed_at.is_not(None))
        .order_by(Escalation.closed_at.desc())
        .limit(HANDLING_SAMPLE)
    ).all()
    durations = [_seconds(closed - assigned) for assigned, closed in rows if closed is not None and assigned]
    return int(sum(durations) / len(durations)) if durations else DEFAULT_HANDLING_SECONDS


def _agents_who_can_take(session: Session, escalation: Escalation) -> list[Agent]:
    return [agent for agent in session.scalars(select(Agent).where(Agent.active)) if _can_take(agent, escalation)]


def _can_take(agent: Agent, escalation: Escalation) -> bool:
    skilled = escalation.business_code is None or escalation.business_code in agent.skills
    grouped = escalation.agent_group is None or escalation.agent_group in (agent.groups or [])
    return skilled and grouped


def queue_position(session: Session, *, conversation_id: int, now: datetime | None = None) -> QueuePosition | None:
    """Where a waiting conversation stands and a wait estimate; None when it is not waiting.

    Estimate: the conversations ahead of it, plus itself, are served by the agents who could take it,
    each taking the measured average handling time per conversation slot.
    """
    queued = _queued(session)
    index = next((i for i, escalation in enumerate(queued) if escalation.conversation_id == conversation_id), None)
    if index is None:
        return None
    escalation = queued[index]
    agents = _agents_who_can_take(session, escalation)
    slots = max(1, sum(agent.max_concurrent for agent in agents))
    free = slots - _load(session, [agent.id for agent in agents])
    waves = math.ceil(max(0, index + 1 - max(0, free)) / slots)
    return QueuePosition(
        position=index + 1, ahead=index, estimated_wait_seconds=waves * average_handling_seconds(session)
    )


def _load(session: Session, agent_ids: list[int]) -> int:
    if not agent_ids:
        return 0
    return int(
        session.scalar(
            select(func.count())
            .select_from(Escalation)
            .where(Escalation.status == "assigned", Escalation.agent_id.in_(agent_ids))
        )
        or 0
    )


def agent_load(session: Session, *, agent_id: int) -> int:
    """How many conversations the agent handles now."""
    return _load(session, [agent_id])


def _lock_agent(session: Session, agent_id: int) -> Agent:
    agent = session.scalar(select(Agent).where(Agent.id == agent_id).with_for_update())
    if agent is None:
        raise NotFoundError(f"agent {agent_id} does not exist")
    if not agent.active:
        raise SkillMismatchError(f"agent {agent.username} is not active")
    return agent


def _check_can_take(session: Session, agent: Agent, escalation: Escalation) -> None:
    if not _can_take(agent, escalation):
        needs = [
            f"skill {escalation.business_code}" if escalation.business_code else "",
            f"group {escalation.agent_group}" if escalation.agent_group else "",
        ]
        raise SkillMismatchError(
            f"agent {agent.username} cannot take this conversation (needs {' and '.join(n for n in needs if n)})"
        )
    load = agent_load(session, agent_id=agent.id)
    if load >= agent.max_concurrent:
        raise AgentAtCapacityError(
            f"agent {agent.username} is at capacity ({load} of {agent.max_concurrent} conversations)"
        )


def claim(session: Session, *, conversation_id: int, agent_id: int, now: datetime | None = None) -> EscalationOut:
    """Assign the conversation's queued escalation to the agent; claiming one's own again returns it."""
    return claim_conversation(session, conversation_id=conversation_id, agent_id=agent_id, now=now)[0]


def claim_conversation(
    session: Session, *, conversation_id: int, agent_id: int, now: datetime | None = None
) -> tuple[EscalationOut, bool]:
    """`claim`, also saying whether this call assigned it (False for a repeated claim by the same agent)."""
    now = now or utcnow()
    agent = _lock_agent(session, agent_id)
    escalation = _open_for(session, conversation_id)
    if escalation is None:
        raise NotFoundError(f"conversation {conversation_id} is not waiting for an agent")
    if escalation.status == "assigned":
        if escalation.agent_id == agent_id:
            return EscalationOut.model_validate(escalation), False
        raise AlreadyClaimedError(f"conversation {conversation_id} is already handled by another agent")
    _check_can_take(session, agent, escalation)
    result = session.execute(
        update(Escalation)
        .where(Escalation.id == escalation.id, Escalation.status == "queued")
        .values(status="assigned", agent_id=agent_id, assigned_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise AlreadyClaimedError(f"conversation {conversation_id} was just claimed by another agent")
    session.refresh(escalation)
    _hand_conversation(
        session, conversation_id, to_owner="agent", reason="claimed", actor=agent.username, agent_id=agent_id
    )
    return EscalationOut.model_validate(escalation), True


def record_first_response(session: Session, *, escalation_id: int, now: datetime | None = None) -> EscalationOut:
    """Stamp the agent's first reply (once); a reply after the SLA due time marks the breach."""
    now = now or utcnow()
    escalation = _require(session, escalation_id)
    if escalation.first_response_at is None:
        escalation.first_response_at = now
        if escalation.sla_due_at is not None and now > escalation.sla_due_at and escalation.sla_breached_at is None:
            escalation.sla_breached_at = escalation.sla_due_at
        session.flush()
    return EscalationOut.model_validate(escalation)


def detect_breaches(session: Session, *, now: datetime | None = None) -> list[int]:
    """Mark open escalations whose first response is overdue; returns the ids newly marked."""
    now = now or utcnow()
    overdue = session.scalars(
        select(Escalation).where(
            Escalation.status.in_(OPEN_ESCALATION_STATUSES),
            Escalation.first_response_at.is_(None),
            Escalation.sla_breached_at.is_(None),
            Escalation.sla_due_at < now,
        )
    ).all()
    for escalation in overdue:
        escalation.sla_breached_at = escalation.sla_due_at
    session.flush()
    return [escalation.id for escalation in overdue]


def count_breaches(session: Session, *, since: datetime) -> int:
    """SLA breaches that happened since `since` (e.g. local midnight for "today")."""
    return int(
        session.scalar(select(func.count()).select_from(Escalation).where(Escalation.sla_breached_at >= since)) or 0
    )


def transfer(
    session: Session,
    *,
    escalation_id: int,
    author: str,
    to_agent_id: int | None = None,
    to_group: str | None = None,
    now: datetime | None = None,
) -> EscalationOut:
    """Hand an open escalation to another agent (assigned at once) or a group (queued again, keeping its wait)."""
    if (to_agent_id is None) == (to_group is None):
        raise ValueError("transfer to exactly one of an agent or a group")
    now = now or utcnow()
    escalation = _require(session, escalation_id)
    if escalation.status not in OPEN_ESCALATION_STATUSES:
        raise EscalationClosedError(f"escalation {escalation_id} is closed")
    if to_agent_id is not None:
        agent = _lock_agent(session, to_agent_id)
        if escalation.agent_id == to_agent_id:
            return EscalationOut.model_validate(escalation)
        _check_can_take(session, agent, escalation)
        escalation.status, escalation.agent_id, escalation.assigned_at = "assigned", to_agent_id, now
        note = f"transferred to agent {agent.username}"
        _hand_conversation(
            session, escalation.conversation_id, to_owner="agent", reason="transfer", actor=author, agent_id=to_agent_id
        )
    else:
        escalation.status, escalation.agent_id, escalation.assigned_at = "queued", None, None
        escalation.agent_group = to_group
        note = f"transferred to group {to_group}"
        _hand_conversation(session, escalation.conversation_id, to_owner="queue", reason="transfer", actor=author)
    session.add(EscalationNote(escalation_id=escalation_id, author=author, text=note, created_at=now))
    session.flush()
    return EscalationOut.model_validate(escalation)


def add_note(session: Session, *, escalation_id: int, author: str, text: str, now: datetime | None = None) -> NoteOut:
    """An internal note (never shown to the customer)."""
    text = text.strip()
    if not text:
        raise ValueError("a note needs text")
    _require(session, escalation_id)
    note = EscalationNote(escalation_id=escalation_id, author=author, text=text, created_at=now or utcnow())
    session.add(note)
    session.flush()
    return NoteOut.model_validate(note)


def list_notes(session: Session, *, escalation_id: int) -> list[NoteOut]:
    query = select(EscalationNote).where(EscalationNote.escalation_id == escalation_id).order_by(EscalationNote.id)
    return [NoteOut.model_validate(note) for note in session.scalars(query)]


def offer_compensation(
    session: Session,
    *,
    escalation_id: int,
    agent_id: int | None,
    coupon_amount: Decimal | None = None,
    points: int | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> CompensationOut:
    """Record a coupon (CNY) or credit points to the customer; exactly one of the two, positive."""
    if (coupon_amount is None) == (points is None):
        raise ValueError("offer exactly one of a coupon amount or points")
    if (coupon_amount is not None and coupon_amount <= 0) or (points is not None and points <= 0):
        raise ValueError("a compensation must be positive")
    escalation = _require(session, escalation_id)
    customer = session.get(Customer, escalation.customer_id) if escalation.customer_id is not None else None
    if customer is None:  # an anonymous visitor, or a customer erased since the hand-off: nobody to credit
        raise ValueError("compensation needs an identified customer")
    offer = CompensationOffer(
        escalation_id=escalation_id,
        customer_id=customer.id,
        agent_id=agent_id,
        kind="coupon" if coupon_amount is not None else "points",
        coupon_amount=coupon_amount,
        points=points,
        note=note,
        created_at=now or utcnow(),
    )
    session.add(offer)
    if points is not None:
        customer.points += points
    session.flush()
    return CompensationOut.model_validate(offer)


def close(
    session: Session,
    *,
    escalation_id: int,
    summary: str,
    outcome: str,
    callback_at: datetime | None = None,
    now: datetime | None = None,
) -> EscalationOut:
    """Close with a summary and an outcome (resolved / ticket / callback); repeating the same close is a no-op."""
    summary = summary.strip()
    if not summary:
        raise ValueError("closing needs a summary")
    if outcome not in ESCALATION_OUTCOMES:
        raise ValueError(f"outcome must be one of {list(ESCALATION_OUTCOMES)}, got {outcome!r}")
    escalation = _require(session, escalation_id)
    if escalation.status == "closed":
        if (escalation.summary, escalation.outcome) == (summary, outcome):
            return EscalationOut.model_validate(escalation)
        raise EscalationClosedError(f"escalation {escalation_id} is already closed")
    escalation.status = "closed"
    escalation.summary = summary
    escalation.outcome = outcome
    escalation.callback_at = callback_at
    escalation.closed_at = now or utcnow()
    session.flush()
    # Back to the bot: the Rasa tracker is untouched, so the slots it collected before the handoff remain.
    _hand_conversation(session, escalation.conversation_id, to_owner="bot", reason=f"closed:{outcome}", actor="agent")
    return EscalationOut.model_validate(escalation)


class HandoffResult(Dto):
    """What the bot should do with a signal, and where the conversation stands if it was queued."""

    action: str
    reason: str
    escalation: EscalationOut | None
    position: QueuePosition | None
    service_hours_text_zh: str
    hotline: str


def request_handoff(
    session: Session,
    *,
    conversation_id: int,
    signal: Signal,
    counters: Counters,
    business_code: str | None = None,
    now: datetime | None = None,
    desk: ServiceDeskHours | None = None,
) -> HandoffResult:
    """The one call for the bot side: decide by the customer's tier (policy/escalation.yml), queue the
    conversation when the decision is to escalate (idempotent), and return its position and wait.

    The estimated wait fed to the rules is that of a conversation joining the queue now, so "the wait is
    too long" is judged before queueing."""
    now = now or utcnow()
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} does not exist")
    customer = session.get(Customer, conversation.customer_id) if conversation.customer_id is not None else None
    desk = desk or load_service_desk(session)
    existing = _open_for(session, conversation_id)
    if existing is None and counters.estimated_wait_seconds is None:
        waiting = len(_queued(session))
        slots = max(1, sum(agent.max_concurrent for agent in session.scalars(select(Agent).where(Agent.active))))
        busy = _load(session, [agent.id for agent in session.scalars(select(Agent).where(Agent.active))])
        waves = math.ceil(max(0, waiting + 1 - max(0, slots - busy)) / slots)
        counters = Counters(
            explicit_requests=counters.explicit_requests,
            consecutive_fallbacks=counters.consecutive_fallbacks,
            mobile_asked=counters.mobile_asked,
            estimated_wait_seconds=waves * average_handling_seconds(session),
        )
    tier = customer.effective_tier if customer is not None else None
    decision = decide(load_escalation_rules(), tier, signal, counters, now, desk)  # type: ignore[arg-type]
    escalation: EscalationOut | None = EscalationOut.model_validate(existing) if existing is not None else None
    if escalation is None and decision.action == "escalate":
        escalation, _ = enqueue(
            session, conversation_id=conversation_id, decision=decision, business_code=business_code, now=now
        )
    position = queue_position(session, conversation_id=conversation_id, now=now) if escalation else None
    return HandoffResult(
        action="escalate" if escalation is not None else decision.action,
        reason=escalation.reason if existing is not None and escalation is not None else decision.reason,
        escalation=escalation,
        position=position,
        service_hours_text_zh=desk.text_zh,
        hotline=desk.hotline,
    )


def next_service_opening(desk: ServiceDeskHours, now: datetime) -> datetime:
    """`now` when agents are on duty, otherwise the start of the next on-duty interval (within a week)."""
    if desk.is_open(now):
        return now
    zone = ZoneInfo(desk.timezone)
    local = now.astimezone(zone)
    for days_ahead in range(8):
        day = (local + timedelta(days=days_ahead)).date()
        for start, _end in sorted(desk.weekly.get(WEEKDAY_KEYS[day.weekday()], [])):
            opening = datetime.combine(day, time.fromisoformat(start), tzinfo=zone)
            if opening > local:
                return opening.astimezone(timezone.utc)
    return now  # no service hours configured at all: the call-back is due at once


class CallbackOut(Dto):
    escalation: EscalationOut
    created: bool
    callback_at: datetime


def leave_message(
    session: Session,
    *,
    conversation_id: int,
    reason: str,
    business_code: str | None = None,
    now: datetime | None = None,
    desk: ServiceDeskHours | None = None,
) -> CallbackOut:
    """The customer leaves a message instead of waiting: a waiting escalation is closed as a call-back, or a
    call-back escalation is recorded, due at the next service-desk opening (now while agents are on duty).
    A retry while the last escalation is already that call-back returns it (created=False)."""
    now = now or utcnow()
    desk = desk or load_service_desk(session)
    callback_at = next_service_opening(desk, now)
    summary = "customer left a message for a call-back"
    existing = _open_for(session, conversation_id)
    if existing is not None and existing.status == "queued":
        closed = close(
            session, escalation_id=existing.id, summary=summary, outcome="callback", callback_at=callback_at, now=now
        )
        return CallbackOut(escalation=closed, created=True, callback_at=callback_at)
    if existing is not None:
        raise EscalationClosedError(f"conversation {conversation_id} is already handled by an agent")
    latest = latest_escalation(session, conversation_id=conversation_id)
    if latest is not None and latest.outcome == "callback" and latest.callback_at is not None:
        if latest.closed_at is not None and latest.closed_at >= now - timedelta(hours=1):
            return CallbackOut(escalation=latest, created=False, callback_at=latest.callback_at)
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} does not exist")
    customer = session.get(Customer, conversation.customer_id) if conversation.customer_id is not None else None
    escalation = Escalation(
        conversation_id=conversation_id,
        customer_id=conversation.customer_id,
        tier=customer.effective_tier if customer is not None else None,
        reason=reason[:255],
        priority=0,
        status="closed",
        business_code=business_code,
        queued_at=now,
        closed_at=now,
        summary=summary,
        outcome="callback",
        callback_at=callback_at,
    )
    session.add(escalation)
    session.flush()
    return CallbackOut(escalation=EscalationOut.model_validate(escalation), created=True, callback_at=callback_at)
