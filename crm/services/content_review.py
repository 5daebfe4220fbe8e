"""Conversation review for ops: browse conversations with filters, read one with what the bot
understood, mark a customer message with its correct intent (a versioned NLU change), and save a
conversation as a test story (a versioned document under tests/stories/).

What NLU predicted lives in Rasa's SQL tracker store (`events`: one row per event, keyed by the
conversation's rasa_sender_id); it is read with plain SQL so this module never imports Rasa. Without a
tracker store the transcript is still browsable, only intents and fallbacks are unknown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Engine, Float, Integer, String, Text, column, func, select, table
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from crm.models import Conversation, CsatResponse, Customer, Escalation, Message
from crm.services import content, content_nlu
from crm.services.content import ContentNotFoundError, InvalidContentError, VersionOut
from crm.services.content_checks import plain_example

OUT_OF_SCOPE = "out_of_scope"
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = frozenset({"action_default_fallback", "utter_ask_rephrase", "utter_default"})
REVIEWED_STORIES_PATH = "tests/stories/test_reviewed.yml"
_SKIPPED_ACTIONS = frozenset({"action_listen", "action_session_start"})

EVENTS = table(
    "events",
    column("id", Integer),
    column("sender_id", String),
    column("type_name", String),
    column("timestamp", Float),
    column("intent_name", String),
    column("action_name", String),
    column("data", Text),
)


@dataclass(frozen=True)
class Turn:
    """One event of Rasa's tracker that matters for review: a user message or a bot action."""

    kind: str  # "user" or "action"
    name: str | None  # intent or action
    text: str | None = None
    confidence: float | None = None


def tracker_turns(engine: Engine | None, sender_ids: list[str]) -> dict[str, list[Turn]]:
    """The user and action events of each sender, in order ({} without a readable tracker store)."""
    if engine is None or not sender_ids:
        return {}
    statement = (
        select(EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.intent_name, EVENTS.c.action_name, EVENTS.c.data)
        .where(EVENTS.c.sender_id.in_(sender_ids), EVENTS.c.type_name.in_(["user", "action"]))
        .order_by(EVENTS.c.id)
    )
    turns: dict[str, list[Turn]] = {}
    try:
        with engine.connect() as connection:
            rows = connection.execute(statement).all()
    except SQLAlchemyError:  # no tracker store yet (Rasa never ran) or unreachable: review without intents
        return {}
    for sender_id, type_name, intent_name, action_name, data in rows:
        if type_name == "user":
            payload: dict[str, Any] = json.loads(data or "{}")
            intent = (payload.get("parse_data") or {}).get("intent") or {}
            turn = Turn("user", intent_name or intent.get("name"), payload.get("text"), intent.get("confidence"))
        elif action_name in _SKIPPED_ACTIONS:
            continue
        else:
            turn = Turn("action", action_name)
        turns.setdefault(sender_id, []).append(turn)
    return turns


def _fallback(turns: list[Turn]) -> bool:
    return any(
        (turn.kind == "user" and turn.name == FALLBACK_INTENT)
        or (turn.kind == "action" and turn.name in FALLBACK_ACTIONS)
        for turn in turns
    )


@dataclass(frozen=True)
class ReviewFilters:
    channel: str | None = None
    tier: str | None = None
    intent: str | None = None
    fallback: bool | None = None
    escalated: bool | None = None
    csat_max: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    limit: int = 50


@dataclass(frozen=True)
class ConversationSummary:
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


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, start + timedelta(days=1)


def list_conversations(
    session: Session, events: Engine | None, filters: ReviewFilters, *, timezone: str = "Asia/Shanghai"
) -> list[ConversationSummary]:
    """Newest first; channel, tier, escalation, CSAT and dates filter in SQL, intent and fallback on the
    tracker's events."""
    zone = ZoneInfo(timezone)
    escalated = select(Escalation.id).where(Escalation.conversation_id == Conversation.id).exists()
    statement = (
        select(Conversation, Customer.tier, CsatResponse.score, escalated)
        .outerjoin(Customer, Customer.id == Conversation.customer_id)
        .outerjoin(CsatResponse, CsatResponse.conversation_id == Conversation.id)
        .order_by(Conversation.started_at.desc(), Conversation.id.desc())
    )
    if filters.channel:
        statement = statement.where(Conversation.channel == filters.channel)
    if filters.tier:
        statement = statement.where(Customer.tier == filters.tier)
    if filters.escalated is not None:
        statement = statement.where(escalated if filters.escalated else ~escalated)
    if filters.csat_max is not None:
        statement = statement.where(CsatResponse.score <= filters.csat_max)
    if filters.date_from is not None:
        statement = statement.where(Conversation.started_at >= _day_bounds(filters.date_from, zone)[0])
    if filters.date_to is not None:
        statement = statement.where(Conversation.started_at < _day_bounds(filters.date_to, zone)[1])
    needs_events = filters.intent is not None or filters.fallback is not None
    rows = session.execute(statement.limit(filters.limit * (10 if needs_events else 1))).all()
    turns = tracker_turns(events, [row[0].rasa_sender_id for row in rows])
    summaries: list[ConversationSummary] = []
    for conversation, tier, score, was_escalated in rows:
        mine = turns.get(conversation.rasa_sender_id)
        intents = sorted({turn.name for turn in mine or [] if turn.kind == "user" and turn.name})
        fallback = _fallback(mine) if mine is not None else None
        if filters.intent is not None and filters.intent not in intents:
            continue
        if filters.fallback is not None and fallback is not filters.fallback:
            continue
        count = session.scalar(select(func.count(Message.id)).where(Message.conversation_id == conversation.id))
        first = session.scalar(
            select(Message.text)
            .where(Message.conversation_id == conversation.id, Message.sender == "customer")
            .order_by(Message.id)
            .limit(1)
        )
        summaries.append(
            ConversationSummary(
                conversation.id,
                conversation.channel,
                tier,
                conversation.status,
                conversation.started_at,
                count or 0,
                first,
                intents,
                fallback,
                bool(was_escalated),
                score,
            )
        )
        if len(summaries) >= filters.limit:
            break
    return summaries


@dataclass(frozen=True)
class ReviewMessage:
    id: int
    sender: str
    text: str
    created_at: datetime
    intent: str | None = None
    confidence: float | None = None
    labelled: str | None = None  # the intent the text is an example of now (after review)


@dataclass(frozen=True)
class ConversationDetail:
    id: int
    channel: str
    tier: str | None
    started_at: datetime
    messages: list[ReviewMessage] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)


def _conversation(session: Session, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise ContentNotFoundError("conversation_not_found", id=conversation_id)
    return conversation


def get_conversation(session: Session, events: Engine | None, conversation_id: int) -> ConversationDetail:
    """The transcript; each customer message with the intent NLU gave it and its current training label."""
    conversation = _conversation(session, conversation_id)
    turns = tracker_turns(events, [conversation.rasa_sender_id]).get(conversation.rasa_sender_id, [])
    user_turns = [turn for turn in turns if turn.kind == "user"]
    examples = {
        plain_example(example): intent.name
        for intent in content_nlu.list_intents(session)
        for example in intent.examples
    }
    tier = session.scalar(select(Customer.tier).where(Customer.id == conversation.customer_id))
    messages: list[ReviewMessage] = []
    rows = session.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id))
    for message in rows:
        intent: str | None = None
        confidence: float | None = None
        if message.sender == "customer":
            match = next((turn for turn in user_turns if (turn.text or "").strip() == message.text.strip()), None)
            if match is not None:
                user_turns.remove(match)
                intent, confidence = match.name, match.confidence
        labelled = examples.get(plain_example(message.text)) if message.sender == "customer" else None
        messages.append(
            ReviewMessage(message.id, message.sender, message.text, message.created_at, intent, confidence, labelled)
        )
    actions = [turn.name for turn in turns if turn.kind == "action" and turn.name]
    return ConversationDetail(conversation.id, conversation.channel, tier, conversation.started_at, messages, actions)


def label_message(session: Session, conversation_id: int, message_id: int, intent: str, *, author: str) -> VersionOut:
    """Make a customer message an example of `intent` (or `out_of_scope`): added, or moved from the intent
    it is an example of today."""
    _conversation(session, conversation_id)
    message = session.get(Message, message_id)
    if message is None or message.conversation_id != conversation_id:
        raise ContentNotFoundError("conversation_not_found", id=f"{conversation_id}/{message_id}")
    if message.sender != "customer":
        raise InvalidContentError("message_not_customer")
    key = plain_example(message.text)
    for current in content_nlu.list_intents(session):
        for example in current.examples:
            if plain_example(example) == key:
                if current.name == intent:
                    raise InvalidContentError("duplicate_example", text=message.text, intent=intent)
                return content_nlu.move_example(session, current.name, example, intent, author=author)
    return content_nlu.add_example(session, intent, message.text, author=author)


def story_steps(turns: list[Turn], labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Test-story steps from the tracker: each user message with its (corrected) intent, each bot action."""
    labels = labels or {}
    steps: list[dict[str, Any]] = []
    for turn in turns:
        if turn.kind == "user" and turn.text:
            intent = labels.get(plain_example(turn.text), turn.name)
            steps.append({"user": turn.text, "intent": intent})
        elif turn.kind == "action" and turn.name:
            steps.append({"action": turn.name})
    return steps


def save_test_story(
    session: Session, events: Engine | None, conversation_id: int, *, name: str, author: str
) -> VersionOut:
    """Append the conversation as a test story to tests/stories/test_reviewed.yml (validated, versioned)."""
    conversation = _conversation(session, conversation_id)
    turns = tracker_turns(events, [conversation.rasa_sender_id]).get(conversation.rasa_sender_id, [])
    labels = {
        plain_example(example): intent.name
        for intent in content_nlu.list_intents(session)
        for example in intent.examples
    }
    steps = story_steps(turns, labels)
    if not any("user" in step for step in steps):
        raise InvalidContentError("invalid_structure", path=REVIEWED_STORIES_PATH, problem="no tracked turns to save")
    story = yaml.safe_dump(
        [{"story": name.strip() or f"conversation {conversation_id}", "steps": steps}],
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=False,
        indent=2,
        width=4096,
    )
    block = "".join(f"  {line}\n" for line in story.splitlines())

    def change(text: str) -> str:
        if not text.strip():
            text = 'version: "3.1"\n\n# Conversations saved from the ops console\'s review.\nstories:\n'
        return text.rstrip("\n") + "\n\n" + block

    return content.edit(
        session, REVIEWED_STORIES_PATH, change, author=author, summary=f"test story from conversation {conversation_id}"
    )
