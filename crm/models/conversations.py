"""Conversations between a channel user and the bot or an agent, and their transcript."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from crm.enums import (
    CHANNELS,
    CONVERSATION_OWNERS,
    CONVERSATION_STATUSES,
    MESSAGE_DIRECTIONS,
    MESSAGE_SENDERS,
)
from crm.models.base import Base, enum_check
from crm.types import utcnow

_OPEN = text("status = 'open'")


class Conversation(Base):
    __tablename__ = "conversation"
    __table_args__ = (
        enum_check("channel", CHANNELS),
        enum_check("owner", CONVERSATION_OWNERS),
        enum_check("status", CONVERSATION_STATUSES),
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
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_user_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"), index=True)
    owner: Mapped[str] = mapped_column(String(8), default="bot", server_default="bot")
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), index=True)
    status: Mapped[str] = mapped_column(String(8), default="open", server_default="open")
    rasa_sender_id: Mapped[str] = mapped_column(String(255), unique=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class Message(Base):
    __tablename__ = "message"
    __table_args__ = (
        enum_check("direction", MESSAGE_DIRECTIONS),
        enum_check("sender", MESSAGE_SENDERS),
        # Inbound idempotency: a channel's retry carries the same client_message_id.
        UniqueConstraint("conversation_id", "client_message_id"),
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
