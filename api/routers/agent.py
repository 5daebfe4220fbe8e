"""The agent console's API: queue, claim, conversation view, replies, notes, transfer, compensation,
close, abuse flags, tier overrides and the supervisor overview. Every route needs a staff token.

Every customer-bound message (the "客服…为您服务" greeting, agent replies, the closing line) goes through
`deliver_to_customer`, i.e. the hub's one outbound entry point: stored once, published, delivered on the
customer's channel (web chat socket, WeChat customer-service API). Database work runs in a worker thread and
commits before anything is sent, so a customer never hears of a claim or a close that was rolled back.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timezone
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api import auth
from api.auth import SessionFactoryDep, Staff, require_roles
from api.deps import HubDep
from api.hub import csat_step
from api.hub.conversation_hub import ConversationHub
from api.hub.rasa_client import RasaUnavailableError
from api.routers import console_live, console_pages
from api.texts import text
from core.settings import get_settings
from crm.enums import EscalationOutcome, Tier
from crm.errors import NotFoundError, OwnershipConflictError
from crm.models import Agent
from crm.repositories import ConversationRepository
from crm.schemas import ConversationOut, MessageOut, OutgoingMessage
from crm.services import queue
from crm.services.canned_replies import CannedReply, load_canned_replies
from crm.services.conversations import list_transcript
from crm.services.csat import CsatOut, SupervisorTaskOut, get_csat, list_supervisor_tasks
from crm.services.customer_card import CustomerCardOut, customer_card, flag_abuse
from crm.services.tiers import override_tier

router = APIRouter(prefix="/api/agent", tags=["agent console"])
# What api/main.py includes: the logins and the console routes.
console_router = APIRouter()

AgentOnly = Annotated[Staff, Depends(require_roles("agent"))]
AgentOrSupervisor = Annotated[Staff, Depends(require_roles("agent", "supervisor"))]
Supervisor = Annotated[Staff, Depends(require_roles("supervisor"))]
OpsOrSupervisor = Annotated[Staff, Depends(require_roles("ops", "supervisor"))]
ConversationId = Annotated[int, Path(ge=1)]


async def deliver_to_customer(
    hub: ConversationHub, *, conversation_id: int, sender: str, texts: list[str], agent_id: int | None = None
) -> list[MessageOut]:
    """Say something to the customer through the hub (stored once, published, delivered by their channel)."""
    return await hub.send(
        conversation_id,
        sender=sender,  # type: ignore[arg-type]
        messages=[OutgoingMessage(text=item) for item in texts],
        agent_id=agent_id if sender == "agent" else None,
    )


def _conversation(session: Session, conversation_id: int) -> ConversationOut:
    conversation = ConversationRepository(session).get(conversation_id)
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} does not exist")
    return ConversationOut.model_validate(conversation)


# -- request and response bodies ---------------------------------------------------------------------


class QueueItemView(BaseModel):
    conversation_id: int
    customer_id: int | None
    tier: Tier | None
    priority: int
    reason: str
    waiting_seconds: int
    sla_due_at: datetime | None
    sla_breached: bool
    business_code: str | None
    agent_group: str | None
    first_response_at: datetime | None = None


class QueueView(BaseModel):
    items: list[QueueItemView]


class ConversationView(BaseModel):
    conversation: ConversationOut
    transcript: list[MessageOut]
    customer: CustomerCardOut | None
    escalation: queue.EscalationOut | None
    notes: list[queue.NoteOut]
    csat: CsatOut | None


class MessageIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class CloseIn(BaseModel):
    summary: str = Field(min_length=1, max_length=2000)
    outcome: EscalationOutcome
    callback_at: datetime | None = None


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)


class TransferIn(BaseModel):
    agent_id: int | None = None
    group: str | None = Field(default=None, min_length=1, max_length=32)


class CompensationIn(BaseModel):
    coupon_amount: Decimal | None = Field(default=None, gt=0, max_digits=10, decimal_places=2)
    points: int | None = Field(default=None, gt=0)
    note: str | None = Field(default=None, max_length=500)


class AbuseIn(BaseModel):
    note: str = Field(max_length=500, description="empty clears the flag")


class TierOverrideIn(BaseModel):
    tier: Tier | None = Field(description="null clears the override")
    reason: str = Field(min_length=1, max_length=500)


class AgentLoadView(BaseModel):
    agent_id: int
    username: str
    name: str
    active: bool
    load: int
    max_concurrent: int


class SupervisorView(BaseModel):
    queue: list[QueueItemView]
    agents: list[AgentLoadView]
    sla_breaches_today: int
    follow_up_tasks: list[SupervisorTaskOut]


# -- helpers ------------------------------------------------------------------------------------------


def _error(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"code": code, "message": message})


def _open_escalation(session: Session, conversation_id: int) -> queue.EscalationOut:
    escalation = queue.open_escalation(session, conversation_id=conversation_id)
    if escalation is None:
        raise _error(404, "no_open_escalation", f"conversation {conversation_id} has no open handoff")
    return escalation


def _owned_escalation(session: Session, conversation_id: int, staff: Staff) -> queue.EscalationOut:
    escalation = _open_escalation(session, conversation_id)
    if staff.role == "agent" and (escalation.status != "assigned" or escalation.agent_id != staff.agent_id):
        raise _error(409, "not_your_conversation", "该会话不由您接待 (claim the conversation first)")
    return escalation


def _agent_name(session: Session, agent_id: int | None) -> str:
    agent = session.get(Agent, agent_id) if agent_id is not None else None
    return agent.name if agent is not None else ""


def _views(items: list[queue.QueueItem]) -> list[QueueItemView]:
    return [QueueItemView.model_validate(item.model_dump()) for item in items]


# -- routes -------------------------------------------------------------------------------------------


@router.get("/queue", response_model=QueueView)
def get_queue(staff: AgentOrSupervisor, factory: SessionFactoryDep) -> QueueView:
    """Waiting conversations in serving order (priority, then waiting time); overdue first responses are
    recorded as SLA breaches on the way (also done by the hub's sweeper when nobody looks)."""
    with factory.begin() as session:
        queue.detect_breaches(session)
        return QueueView(items=_views(queue.list_queue(session)))


class MeView(BaseModel):
    username: str
    display_name: str
    role: str
    agent_id: int | None


@router.get("/me", response_model=MeView)
def get_me(staff: auth.StaffDep) -> MeView:
    """The logged-in account (the console's header and role-based pages)."""
    return MeView(username=staff.username, display_name=staff.display_name, role=staff.role, agent_id=staff.agent_id)


@router.get("/mine", response_model=QueueView)
def get_my_conversations(staff: AgentOrSupervisor, factory: SessionFactoryDep) -> QueueView:
    """The conversations the logged-in agent serves now."""
    if staff.agent_id is None:
        return QueueView(items=[])
    with factory() as session:
        return QueueView(items=_views(queue.list_assigned(session, agent_id=staff.agent_id)))


class TransferTargetsView(BaseModel):
    agents: list[AgentLoadView]
    groups: list[str]


@router.get("/agents", response_model=TransferTargetsView)
def get_transfer_targets(staff: AgentOrSupervisor, factory: SessionFactoryDep) -> TransferTargetsView:
    """Active agents with their load, and the agent groups: where a conversation can be transferred."""
    with factory() as session:
        agents = session.scalars(select(Agent).where(Agent.active).order_by(Agent.id)).all()
        views = [
            AgentLoadView(
                agent_id=agent.id,
                username=agent.username,
                name=agent.name,
                active=agent.active,
                load=queue.agent_load(session, agent_id=agent.id),
                max_concurrent=agent.max_concurrent,
            )
            for agent in agents
        ]
        groups = sorted({group for agent in agents for group in (agent.groups or [])})
    return TransferTargetsView(agents=views, groups=groups)


class CannedRepliesView(BaseModel):
    business_code: str | None
    replies: list[CannedReply]


@router.get("/canned-replies", response_model=CannedRepliesView)
def get_canned_replies(staff: AgentOrSupervisor, business: str | None = None) -> CannedRepliesView:
    """Canned replies for a conversation about `business` (policy/canned_replies.yml) plus the common ones."""
    return CannedRepliesView(business_code=business, replies=load_canned_replies().for_business(business))


@router.post("/conversations/{conversation_id}/claim", response_model=queue.EscalationOut)
async def claim(
    conversation_id: ConversationId, staff: AgentOnly, factory: SessionFactoryDep, hub: HubDep
) -> queue.EscalationOut:
    """Take a waiting conversation; 409 when someone else has it or the agent is at capacity."""
    agent_id = staff.agent_id
    if agent_id is None:
        raise _error(403, "not_an_agent", "只有客服账号可以接待会话 (only agent logins can claim)")

    def work() -> tuple[queue.EscalationOut, str | None, ConversationOut]:
        with factory.begin() as session:
            escalation, newly_assigned = queue.claim_conversation(
                session, conversation_id=conversation_id, agent_id=agent_id
            )
            # A double tap must not greet the customer twice.
            name = _agent_name(session, agent_id) if newly_assigned else None
            return escalation, name, _conversation(session, conversation_id)

    try:
        escalation, name, conversation = await asyncio.to_thread(work)
    except queue.AlreadyClaimedError as error:
        raise _error(409, "already_claimed", f"该会话已被其他客服接待 ({error})") from error
    except queue.AgentAtCapacityError as error:
        raise _error(409, "at_capacity", f"您的接待量已满 ({error})") from error
    except queue.SkillMismatchError as error:
        raise _error(409, "not_qualified", f"该会话需要其他技能组接待 ({error})") from error
    except OwnershipConflictError as error:
        raise _error(409, "already_claimed", f"该会话已被其他客服接待 ({error})") from error
    except NotFoundError as error:
        raise _error(404, "not_waiting", f"该会话不在排队中 ({error})") from error
    if name is not None:
        await hub.announce(conversation, "owner")
        await deliver_to_customer(
            hub, conversation_id=conversation_id, sender="system", texts=[text("agent_joined", agent_name=name)]
        )
        await hub.notify_queue()  # the ones behind it moved up
    return escalation


@router.get("/conversations/{conversation_id}", response_model=ConversationView)
def get_conversation(
    conversation_id: ConversationId, staff: AgentOrSupervisor, factory: SessionFactoryDep
) -> ConversationView:
    """The whole transcript (bot part included), the customer card, the handoff and its CSAT."""
    with factory() as session:
        conversation = ConversationRepository(session).get(conversation_id)
        if conversation is None:
            raise _error(404, "conversation_not_found", f"conversation {conversation_id} does not exist")
        escalation = queue.latest_escalation(session, conversation_id=conversation_id)
        card = (
            customer_card(session, customer_id=conversation.customer_id, current_conversation_id=conversation_id)
            if conversation.customer_id is not None
            else None
        )
        return ConversationView(
            conversation=ConversationOut.model_validate(conversation),
            transcript=list_transcript(session, conversation_id=conversation_id, limit=500),
            customer=card,
            escalation=escalation,
            notes=queue.list_notes(session, escalation_id=escalation.id) if escalation is not None else [],
            csat=get_csat(session, conversation_id=conversation_id),
        )


class CollectedView(BaseModel):
    slots: dict[str, Any]


@router.get("/conversations/{conversation_id}/collected", response_model=CollectedView)
async def get_collected(
    conversation_id: ConversationId, staff: AgentOrSupervisor, factory: SessionFactoryDep, hub: HubDep
) -> CollectedView:
    """What the bot collected before the handoff (the slots of the conversation's Rasa tracker)."""

    def read() -> ConversationOut:
        with factory() as session:
            return _conversation(session, conversation_id)

    try:
        conversation = await asyncio.to_thread(read)
    except NotFoundError as error:
        raise _error(404, "conversation_not_found", str(error)) from error
    try:
        return CollectedView(slots=await hub.collected_slots(conversation))
    except RasaUnavailableError as error:
        raise _error(503, "bot_unavailable", f"暂时无法读取机器人收集的信息 ({error})") from error


@router.post("/conversations/{conversation_id}/messages", response_model=MessageOut)
async def send_message(
    conversation_id: ConversationId, body: MessageIn, staff: AgentOnly, factory: SessionFactoryDep, hub: HubDep
) -> MessageOut:
    """An agent's reply to the customer; the first one stops the SLA clock."""
    message = body.text.strip()
    if not message:
        raise _error(422, "empty_message", "消息不能为空 (empty message)")

    def owned() -> int:
        with factory() as session:
            return _owned_escalation(session, conversation_id, staff).id

    escalation_id = await asyncio.to_thread(owned)
    stored = await deliver_to_customer(
        hub, conversation_id=conversation_id, sender="agent", texts=[message], agent_id=staff.agent_id
    )

    def first_response() -> None:
        with factory.begin() as session:
            queue.record_first_response(session, escalation_id=escalation_id, now=stored[0].created_at)

    await asyncio.to_thread(first_response)
    return stored[0]


@router.post("/conversations/{conversation_id}/close", response_model=queue.EscalationOut)
async def close(
    conversation_id: ConversationId, body: CloseIn, staff: AgentOrSupervisor, factory: SessionFactoryDep, hub: HubDep
) -> queue.EscalationOut:
    """End the handoff with a summary and an outcome; the conversation goes back to the bot (its Rasa tracker,
    and so the slots collected before the handoff, untouched) and the customer is told."""

    def work() -> tuple[queue.EscalationOut, bool, ConversationOut]:
        with factory.begin() as session:
            escalation = _owned_escalation(session, conversation_id, staff)
            was_open = escalation.status != "closed"
            closed = queue.close(
                session,
                escalation_id=escalation.id,
                summary=body.summary,
                outcome=body.outcome,
                callback_at=body.callback_at,
            )
            return closed, was_open, _conversation(session, conversation_id)

    closed, was_open, conversation = await asyncio.to_thread(work)
    if was_open:  # a repeated close says nothing twice
        await hub.announce(conversation, "owner")
        await deliver_to_customer(hub, conversation_id=conversation_id, sender="system", texts=[text("agent_closed")])
        if closed.assigned_at is not None:  # someone served them: ask for a rating (answer read by the hub)
            await hub.send(conversation_id, sender="system", messages=[csat_step.question()])
        await hub.notify_queue()  # a queued handoff closed: the ones behind it moved up
    return closed


@router.post("/conversations/{conversation_id}/notes", response_model=queue.NoteOut)
def add_note(
    conversation_id: ConversationId, body: NoteIn, staff: AgentOrSupervisor, factory: SessionFactoryDep
) -> queue.NoteOut:
    """An internal note on the open handoff (never sent to the customer)."""
    with factory.begin() as session:
        escalation = _open_escalation(session, conversation_id)
        try:
            return queue.add_note(session, escalation_id=escalation.id, author=staff.username, text=body.text)
        except ValueError as error:
            raise _error(422, "empty_note", f"备注不能为空 ({error})") from error


@router.post("/conversations/{conversation_id}/transfer", response_model=queue.EscalationOut)
async def transfer(
    conversation_id: ConversationId, body: TransferIn, staff: AgentOrSupervisor, factory: SessionFactoryDep, hub: HubDep
) -> queue.EscalationOut:
    """Hand the conversation to another agent, or back to the queue of a group; the customer (and the
    consoles) are told who serves now."""
    if (body.agent_id is None) == (body.group is None):
        raise _error(422, "transfer_target", "请指定转接的客服或技能组之一 (give exactly one of agent_id or group)")

    def work() -> tuple[queue.EscalationOut, bool, str, ConversationOut]:
        with factory.begin() as session:
            escalation = _owned_escalation(session, conversation_id, staff)
            moved = queue.transfer(
                session,
                escalation_id=escalation.id,
                author=staff.username,
                to_agent_id=body.agent_id,
                to_group=body.group,
            )
            changed = (moved.status, moved.agent_id) != (escalation.status, escalation.agent_id) or (
                moved.agent_group != escalation.agent_group
            )
            return moved, changed, _agent_name(session, moved.agent_id), _conversation(session, conversation_id)

    try:
        moved, changed, name, conversation = await asyncio.to_thread(work)
    except queue.AgentAtCapacityError as error:
        raise _error(409, "at_capacity", f"对方接待量已满 ({error})") from error
    except queue.SkillMismatchError as error:
        raise _error(409, "not_qualified", f"对方不具备该会话所需技能 ({error})") from error
    except NotFoundError as error:
        raise _error(404, "agent_not_found", str(error)) from error
    if changed:  # a repeated transfer to the same agent says nothing twice
        await hub.announce(conversation, "owner")
        notice = text("agent_transferred", agent_name=name) if moved.agent_id else text("transferred_to_group")
        await deliver_to_customer(hub, conversation_id=conversation_id, sender="system", texts=[notice])
        await hub.notify_queue()
    return moved


@router.post("/conversations/{conversation_id}/compensation", response_model=queue.CompensationOut)
def offer_compensation(
    conversation_id: ConversationId, body: CompensationIn, staff: AgentOrSupervisor, factory: SessionFactoryDep
) -> queue.CompensationOut:
    """Record a coupon (CNY) or credit points to the customer."""
    try:
        with factory.begin() as session:
            escalation = _owned_escalation(session, conversation_id, staff)
            return queue.offer_compensation(
                session,
                escalation_id=escalation.id,
                agent_id=staff.agent_id,
                coupon_amount=body.coupon_amount,
                points=body.points,
                note=body.note,
            )
    except ValueError as error:
        raise _error(422, "invalid_compensation", f"补偿需为优惠券金额或积分之一 ({error})") from error


@router.post("/customers/{customer_id}/abuse", status_code=204)
def flag_customer_abuse(
    customer_id: Annotated[int, Path(ge=1)], body: AbuseIn, staff: AgentOrSupervisor, factory: SessionFactoryDep
) -> None:
    """Flag (or with an empty note clear) suspected abuse on the customer record."""
    try:
        with factory.begin() as session:
            flag_abuse(session, customer_id=customer_id, note=body.note, flagged_by=staff.username)
    except NotFoundError as error:
        raise _error(404, "customer_not_found", str(error)) from error


@router.post("/customers/{customer_id}/tier", status_code=204)
def set_tier_override(
    customer_id: Annotated[int, Path(ge=1)], body: TierOverrideIn, staff: OpsOrSupervisor, factory: SessionFactoryDep
) -> None:
    """Ops: set or clear a manual tier with a reason (recorded in the tier history)."""
    try:
        with factory.begin() as session:
            override_tier(
                session, customer_id=customer_id, tier=body.tier, reason=body.reason, changed_by=staff.username
            )
    except NotFoundError as error:
        raise _error(404, "customer_not_found", str(error)) from error
    except ValueError as error:
        raise _error(422, "reason_required", f"请填写调整原因 ({error})") from error


@router.get("/supervisor", response_model=SupervisorView)
def supervisor_overview(staff: Supervisor, factory: SessionFactoryDep) -> SupervisorView:
    """Every queue, each agent's load, today's SLA breaches (local day) and open follow-ups (low ratings)."""
    local = ZoneInfo(get_settings().timezone)
    midnight = datetime.combine(datetime.now(local).date(), time(), local).astimezone(timezone.utc)
    with factory.begin() as session:
        queue.detect_breaches(session)
        agents = session.scalars(select(Agent).order_by(Agent.id)).all()
        loads: list[dict[str, Any]] = [
            {
                "agent_id": agent.id,
                "username": agent.username,
                "name": agent.name,
                "active": agent.active,
                "load": queue.agent_load(session, agent_id=agent.id),
                "max_concurrent": agent.max_concurrent,
            }
            for agent in agents
        ]
        return SupervisorView(
            queue=_views(queue.list_queue(session)),
            agents=[AgentLoadView.model_validate(load) for load in loads],
            sla_breaches_today=queue.count_breaches(session, since=midnight),
            follow_up_tasks=list_supervisor_tasks(session),
        )


console_router.include_router(auth.router)
console_router.include_router(router)
console_router.include_router(console_live.router)
console_router.include_router(console_pages.router)
