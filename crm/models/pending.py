"""Customer messages the bot could not take because no Rasa server was reachable: answered when one is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base, enum_check
from crm.types import utcnow

PENDING_TURN_STATES = ("waiting", "done", "expired")


class PendingBotTurn(Base):
    """One held turn. `claimed_until` is a lease: the process that claimed it replays it, exactly once."""

    __tablename__ = "pending_bot_turn"
    __table_args__ = (enum_check("state", PENDING_TURN_STATES),)

    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), index=True)
    # What Rasa is sent: the text, or the payload of the button pressed.
    rasa_message: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(8), default="waiting", server_default="waiting", index=True)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
