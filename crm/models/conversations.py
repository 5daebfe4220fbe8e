"""Conversations between a channel user and the bot, the queue or an agent; their transcript and owner history."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.enums import (
    CHANNELS,
    CONVERSATION_CLOSE_REASONS,
    CONVERSATION_OWNERS,
    CONVERSATION_STATUSES,
    DELIVERY_STATES,
    MESSAGE_DIRECTIONS,
    MESSAGE_SENDERS,
)
from crm.models.base import Base, enum_check
from crm.types import utcnow

if TYPE_CHECKING:
    from crm.models.support import Agent

_OPEN = text("status = 'open'")


class Conversation(Base):
    __tablename__ = "conversation"
    __table_args__ = (
        enum_check("channel", CHANNELS),
        enum_check("owner", CONVERSATION_OWNERS),
        enum_check("status", CONVERSATION_STATUSES),
        enum_check("close_reason", CONVERSATION_CLOSE_REASONS),
        # At most one open conversation per channel user.
        Index(
            "uq_conversation_open_channel_user",
            "channel",
            "channel_user_id",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_conversation_channel_channel_user_id", "channel", "channel_user_id"),
        # The idle sweeper's look-up: open conversations by last activity.
        Index("ix_conversation_open_last_message_at", "last_message_at", sqlite_where=_OPEN, postgresql_where=_OPEN),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_user_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    # Changed only by crm.services.conversation_ownership, which records each change.
    owner: Mapped[str] = mapped_column(String(8), default="bot", server_default="bot")
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), index=True)
    status: Mapped[str] = mapped_column(String(8), default="open", server_default="open")
    rasa_sender_id: Mapped[str] = mapped_column(String(255), unique=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(8))


class Message(Base):
    __tablename__ = "message"
    __table_args__ = (
        enum_check("direction", MESSAGE_DIRECTIONS),
        enum_check("sender", MESSAGE_SENDERS),
        enum_check("delivery_state", DELIVERY_STATES),
        # Inbound idempotency: a channel's retry carries the same client_message_id.
        UniqueConstraint("conversation_id", "client_message_id"),
        # The push-delivery sweeper looks for due retries.
        Index("ix_message_delivery_state_next_attempt_at", "delivery_state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), index=True)
    direction: Mapped[str] = mapped_column(String(4))
    sender: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None]
    client_message_id: Mapped[str | None] = mapped_column(String(128))
    # Outbound replies point at the inbound message they answer.
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Push delivery (one process claims each message with a conditional UPDATE); NULL for connection-bound
    # channels and for replies the channel returned in its own response.
    delivery_state: Mapped[str | None] = mapped_column(String(10))
    delivery_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    delivery_error: Mapped[str | None] = mapped_column(Text)

    # Loaded on first use (agent messages only; an Agent is then in the session's identity map).
    agent: Mapped[Agent | None] = relationship()

    @property
    def agent_name(self) -> str | None:
        return self.agent.name if self.agent is not None else None


class ConversationOwnerChange(Base):
    """One ownership transition (bot → queue → agent → bot), written by crm.services.conversation_ownership."""

    __tablename__ = "conversation_owner_change"
    __table_args__ = (
        enum_check("from_owner", CONVERSATION_OWNERS),
        enum_check("to_owner", CONVERSATION_OWNERS),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), index=True)
    from_owner: Mapped[str] = mapped_column(String(8))
    to_owner: Mapped[str] = mapped_column(String(8))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"))
    reason: Mapped[str] = mapped_column(String(64))
    # Who made the change: "bot", "system", "agent:<id>", "ops:<username>"...
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
