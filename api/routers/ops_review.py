"""The ops console's conversation review: browse conversations with filters, open one with what NLU
understood, label a customer message with its correct intent (a versioned training change), save a
conversation as a test story. Roles ops and supervisor; refusals as in api/routers/ops_content.py."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine, make_url

from api.auth import SessionFactoryDep
from api.deps import SettingsDep
from api.routers.ops_content import OpsStaff, VersionView, refusals, write
from crm.db import make_engine
from crm.services import content_review

router = APIRouter(prefix="/api/ops", tags=["ops console: conversation review"])


@lru_cache(maxsize=4)
def _tracker_engine(url: str) -> Engine:
    return make_engine(url, read_only=True)


def tracker_events(settings: SettingsDep) -> Engine | None:
    """Rasa's tracker store (read-only), where what NLU understood of each message is recorded."""
    url = make_url(settings.rasa_tracker_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return None  # Rasa has not run yet; never create its file here
    try:
        return _tracker_engine(settings.rasa_tracker_url)
    except Exception:  # an unusable URL: review the transcripts without intents
        return None


EventsDep = Annotated[Engine | None, Depends(tracker_events)]


class ConversationSummaryView(BaseModel):
    id: int
    channel: str
    tier: str | None
    status: str
    started_at: datetime
    messages: int
    first_message: str | None
    intents: list[str]
    fallback: bool | None
    escalated: bool
    csat: int | None


class ConversationsOut(BaseModel):
    items: list[ConversationSummaryView]


class ReviewMessageView(BaseModel):
    id: int
    sender: str
    text: str
    created_at: datetime
    intent: str | None
    confidence: float | None
    labelled: str | None


class ConversationDetailView(BaseModel):
    id: int
    channel: str
    tier: str | None
    started_at: datetime
    messages: list[ReviewMessageView]
    actions: list[str]


class LabelIn(BaseModel):
    intent: str = Field(min_length=1, max_length=128, description="the correct intent, or out_of_scope")


class TestStoryIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)


@router.get("/conversations", response_model=ConversationsOut)
def review_conversations(
    staff: OpsStaff,
    factory: SessionFactoryDep,
    events: EventsDep,
    settings: SettingsDep,
    channel: str | None = None,
    tier: str | None = None,
    intent: str | None = None,
    fallback: bool | None = None,
    escalated: bool | None = None,
    csat_max: Annotated[int | None, Query(ge=1, le=5)] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConversationsOut:
    """Conversations, newest first, filtered by channel, tier, intent, fallback, escalation, CSAT ≤ n, dates."""
    filters = content_review.ReviewFilters(
        channel, tier, intent, fallback, escalated, csat_max, date_from, date_to, limit
    )
    with refusals(), factory() as session:
        found = content_review.list_conversations(session, events, filters, timezone=settings.timezone)
        return ConversationsOut(items=[ConversationSummaryView(**asdict(item)) for item in found])


@router.get("/conversations/{conversation_id}", response_model=ConversationDetailView)
def review_conversation(
    conversation_id: int, staff: OpsStaff, factory: SessionFactoryDep, events: EventsDep
) -> ConversationDetailView:
    """One transcript; each customer message with the intent NLU gave it and the intent it is labelled with."""
    with refusals(), factory() as session:
        detail = content_review.get_conversation(session, events, conversation_id)
        return ConversationDetailView.model_validate(asdict(detail))


@router.post("/conversations/{conversation_id}/messages/{message_id}/label", response_model=VersionView)
def label_message(
    conversation_id: int, message_id: int, body: LabelIn, staff: OpsStaff, factory: SessionFactoryDep
) -> VersionView:
    """Mark a customer message with its correct intent (or out_of_scope): a versioned training-data change."""
    return VersionView.of(
        write(
            factory,
            lambda s: content_review.label_message(s, conversation_id, message_id, body.intent, author=staff.username),
        )
    )


@router.post("/conversations/{conversation_id}/test-story", response_model=VersionView, status_code=201)
def save_test_story(
    conversation_id: int, body: TestStoryIn, staff: OpsStaff, factory: SessionFactoryDep, events: EventsDep
) -> VersionView:
    """Save the conversation as a test story in tests/stories/test_reviewed.yml (validated, versioned)."""
    return VersionView.of(
        write(
            factory,
            lambda s: content_review.save_test_story(s, events, conversation_id, name=body.name, author=staff.username),
        )
    )
