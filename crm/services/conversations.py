"""Conversations and the transcript, as used by the API hub.

A conversation ends when an agent closes it or the customer is idle past the hub's idle time (see
crm.services.conversation_ownership); the next message then opens a new one with a fresh Rasa sender id.

Every write bumps `conversation.last_message_at`. Inserts that may race with a concurrent duplicate
(another worker handling the same user or a channel retry) run inside a SAVEPOINT: on IntegrityError only
the savepoint is rolled back and the winner's row is read and returned.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.enums import CHANNELS
from crm.errors import NotFoundError
from crm.models import Conversation, Message
from crm.repositories import ConversationRepository, MessageRepository
from crm.schemas import ConversationOut, MessageOut, OutgoingMessage
from crm.services.conversation_ownership import close_conversation, is_idle
from crm.services.customers import find_customer_by_channel_identity, get_customer
from crm.types import utcnow

__all__ = [
    "adopt_open_conversation",
    "catch_up",
    "find_customer_by_channel_identity",
    "find_open_conversation",
    "get_conversation",
    "get_customer",
    "get_or_open_conversation",
    "list_messages_after",
    "list_replies",
    "list_transcript",
    "load_message",
    "record_inbound_message",
    "record_outbound_messages",
]

OUTBOUND_SENDERS = frozenset({"bot", "agent", "system"})


def _rasa_sender_id(channel: str, channel_user_id: str) -> str:
    # A fresh id per conversation gives Rasa a clean tracker each time a conversation is reopened.
    return f"{channel}:{channel_user_id}:{uuid.uuid4().hex}"


def _require_conversation(session: Session, conversation_id: int) -> Conversation:
    conversation = ConversationRepository(session).get(conversation_id)
    if conversation is None:
        raise NotFoundError(f"conversation {conversation_id} does not exist")
    return conversation


def find_open_conversation(session: Session, *, channel: str, channel_user_id: str) -> ConversationOut | None:
    """The open conversation of this channel user, or None."""
    conversation = ConversationRepository(session).find_open(channel, channel_user_id)
    return ConversationOut.model_validate(conversation) if conversation is not None else None


def get_or_open_conversation(
    session: Session,
    *,
    channel: str,
    channel_user_id: str,
    customer_id: int | None,
    idle_for: timedelta | None = None,
) -> ConversationOut:
    """The user's open conversation, or a new one; links `customer_id` if the open one has no customer yet.

    With `idle_for`, an open bot-owned conversation idle that long is closed first (reason "idle").
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    repository = ConversationRepository(session)
    conversation = repository.find_open(channel, channel_user_id)
    if conversation is not None and idle_for is not None and is_idle(conversation, idle_for=idle_for):
        close_conversation(session, conversation_id=conversation.id, reason="idle", actor="system")
        conversation = None
    if conversation is None:
        candidate = Conversation(
            channel=channel,
            channel_user_id=channel_user_id,
            customer_id=customer_id,
            owner="bot",
            status="open",
            rasa_sender_id=_rasa_sender_id(channel, channel_user_id),
            started_at=utcnow(),
        )
        try:
            with session.begin_nested():
                conversation = repository.add(candidate)
        except IntegrityError:
            # Lost the race on the partial unique index: another transaction opened it first.
            conversation = repository.find_open(channel, channel_user_id)
            if conversation is None:
                raise
    if customer_id is not None and conversation.customer_id is None:
        conversation.customer_id = customer_id
        session.flush()
    return ConversationOut.model_validate(conversation)


def adopt_open_conversation(
    session: Session, *, channel: str, from_channel_user_id: str, to_channel_user_id: str
) -> ConversationOut | None:
    """A visitor who identified themselves (logged in) mid-conversation keeps it: the open conversation of
    `from_channel_user_id` (the anonymous visitor) becomes `to_channel_user_id`'s, with its customer linked.

    Nothing changes when the visitor has no open conversation, or when the identified user already has one (that
    one continues; two open conversations are never merged). Returns the adopted conversation, or None.
    """
    repository = ConversationRepository(session)
    visitor = repository.find_open(channel, from_channel_user_id)
    if visitor is None or repository.find_open(channel, to_channel_user_id) is not None:
        return None
    customer = find_customer_by_channel_identity(session, channel=channel, channel_user_id=to_channel_user_id)
    try:
        with session.begin_nested():
            visitor.channel_user_id = to_channel_user_id
            if customer is not None:
                visitor.customer_id = customer.id
            session.flush()
    except IntegrityError:
        # Another request opened the identified user's conversation meanwhile: that one continues.
        return None
    return ConversationOut.model_validate(visitor)


def record_inbound_message(
    session: Session, *, conversation_id: int, text: str, client_message_id: str | None
) -> tuple[MessageOut, bool]:
    """Store a customer message once; a repeated `client_message_id` returns the stored row and False."""
    conversation = _require_conversation(session, conversation_id)
    messages = MessageRepository(session)
    if client_message_id is not None:
        existing = messages.get_by_client_message_id(conversation_id, client_message_id)
        if existing is not None:
            return MessageOut.model_validate(existing), False
    candidate = Message(
        conversation_id=conversation_id,
        direction="in",
        sender="customer",
        text=text,
        client_message_id=client_message_id,
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            message = messages.add(candidate)
    except IntegrityError:
        existing = (
            messages.get_by_client_message_id(conversation_id, client_message_id)
            if client_message_id is not None
            else None
        )
        if existing is None:
            raise
        return MessageOut.model_validate(existing), False
    conversation.last_message_at = message.created_at
    session.flush()
    return MessageOut.model_validate(message), True


def record_outbound_messages(
    session: Session,
    *,
    conversation_id: int,
    reply_to_id: int | None,
    sender: str,
    messages: list[OutgoingMessage],
    agent_id: int | None = None,
    push_delivery: bool = False,
) -> list[MessageOut]:
    """Store replies (bot, agent or system) in order; `reply_to_id` is the inbound message they answer.

    `push_delivery` marks them pending for a push channel's deliverer (crm.services.message_delivery).
    """
    if sender not in OUTBOUND_SENDERS:
        raise ValueError(f"outbound sender must be one of {sorted(OUTBOUND_SENDERS)}, got {sender!r}")
    conversation = _require_conversation(session, conversation_id)
    repository = MessageRepository(session)
    if reply_to_id is not None:
        inbound = repository.get(reply_to_id)
        if inbound is None or inbound.conversation_id != conversation_id:
            raise NotFoundError(f"message {reply_to_id} is not part of conversation {conversation_id}")
    stored: list[Message] = []
    now = utcnow()
    for outgoing in messages:
        stored.append(
            repository.add(
                Message(
                    conversation_id=conversation_id,
                    direction="out",
                    sender=sender,
                    text=outgoing.text,
                    payload=outgoing.payload,
                    reply_to_id=reply_to_id,
                    agent_id=agent_id,
                    created_at=utcnow(),
                    delivery_state="pending" if push_delivery else None,
                    next_attempt_at=now if push_delivery else None,
                )
            )
        )
    if stored:
        conversation.last_message_at = stored[-1].created_at
        session.flush()
    return [MessageOut.model_validate(message) for message in stored]


def list_replies(session: Session, *, message_id: int) -> list[MessageOut]:
    """Outbound messages answering inbound message `message_id`, in the order they were stored."""
    return [MessageOut.model_validate(message) for message in MessageRepository(session).list_replies(message_id)]


def list_transcript(session: Session, *, conversation_id: int, limit: int = 200) -> list[MessageOut]:
    """The latest `limit` messages of a conversation, oldest first."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return [
        MessageOut.model_validate(message) for message in MessageRepository(session).list_latest(conversation_id, limit)
    ]


def list_messages_after(session: Session, *, conversation_id: int, after_id: int, limit: int = 200) -> list[MessageOut]:
    """Messages of the conversation after message `after_id` (0: from the start), oldest first."""
    return [
        MessageOut.model_validate(message)
        for message in MessageRepository(session).list_after(conversation_id, after_id, limit)
    ]


def load_message(session: Session, *, message_id: int) -> tuple[ConversationOut, MessageOut] | None:
    """A message with its conversation, or None."""
    message = MessageRepository(session).get(message_id)
    if message is None:
        return None
    conversation = _require_conversation(session, message.conversation_id)
    return ConversationOut.model_validate(conversation), MessageOut.model_validate(message)


def get_conversation(session: Session, *, conversation_id: int) -> ConversationOut:
    return ConversationOut.model_validate(_require_conversation(session, conversation_id))


def catch_up(
    session: Session, *, channel: str, channel_user_id: str, after_id: int, limit: int = 200
) -> tuple[ConversationOut | None, list[MessageOut]]:
    """What a (re)connecting client has not seen: with `after_id` 0 the open conversation's transcript, otherwise
    every message of this user's conversations after `after_id` (also those of a conversation closed meanwhile)."""
    open_conversation = find_open_conversation(session, channel=channel, channel_user_id=channel_user_id)
    if after_id <= 0:
        if open_conversation is None:
            return None, []
        return open_conversation, list_transcript(session, conversation_id=open_conversation.id, limit=limit)
    messages = MessageRepository(session).list_after_for_user(channel, channel_user_id, after_id, limit)
    return open_conversation, [MessageOut.model_validate(message) for message in messages]
