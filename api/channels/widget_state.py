"""`GET /api/widget/state`: who is answering the visitor (bot, queue with position and wait, or an agent by name).

The widget shows it as the handoff bar; it asks after each message and while the queue or an agent has the
conversation. The transcript stays the source of truth for what was said.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from sqlalchemy.orm import Session, sessionmaker

from api.channels.identity import WEB_USER_ID_RE
from api.channels.widget import CHANNEL, IdentityView, identify
from api.deps import HubDep, SettingsDep
from crm.models import Agent
from crm.services import conversations, queue

router = APIRouter(prefix="/api/widget", tags=["widget"])


class WidgetStateOut(IdentityView):
    conversation_id: int | None
    # bot | queue | agent; None without an open conversation.
    owner: str | None
    queue_position: int | None = None
    ahead: int | None = None
    estimated_wait_seconds: int | None = None
    agent_name: str | None = None


def _read_state(session: Session, *, channel_user_id: str) -> dict[str, object]:
    conversation = conversations.find_open_conversation(session, channel=CHANNEL, channel_user_id=channel_user_id)
    if conversation is None:
        return {"conversation_id": None, "owner": None}
    state: dict[str, object] = {"conversation_id": conversation.id, "owner": conversation.owner}
    if conversation.owner == "queue":
        position = queue.queue_position(session, conversation_id=conversation.id)
        if position is not None:
            state |= {
                "queue_position": position.position,
                "ahead": position.ahead,
                "estimated_wait_seconds": position.estimated_wait_seconds,
            }
    if conversation.owner == "agent" and conversation.assigned_agent_id is not None:
        agent = session.get(Agent, conversation.assigned_agent_id)
        state["agent_name"] = agent.name if agent else None
    return state


@router.get("/state", response_model=WidgetStateOut)
async def get_state(
    request: Request,
    hub: HubDep,
    settings: SettingsDep,
    user_id: Annotated[str, Query(pattern=WEB_USER_ID_RE.pattern)],
    x_identity_token: Annotated[str | None, Header(max_length=1024)] = None,
) -> WidgetStateOut:
    """The handoff state of the visitor's open conversation."""
    visitor = await identify(hub, user_id, x_identity_token, settings)
    factory: sessionmaker[Session] = request.app.state.session_factory

    def work() -> dict[str, object]:
        with factory() as session:
            return _read_state(session, channel_user_id=visitor.channel_user_id)

    state = await asyncio.to_thread(work)
    return WidgetStateOut.model_validate(
        state | {"identity": visitor.identity, "identity_problem": visitor.identity_problem}
    )
