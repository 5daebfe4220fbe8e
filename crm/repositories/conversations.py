"""Conversation, transcript and owner-history look-ups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from crm.models import Conversation, ConversationOwnerChange, Message
from crm.repositories.base import Repository


class ConversationRepository(Repository):
    def get(self, conversation_id: int) -> Conversation | None:
        return self.session.get(Conversation, conversation_id)

    def find_open(self, channel: str, channel_user_id: str) -> Conversation | None:
        return self.session.scalar(
            select(Conversation).where(
                Conversation.channel == channel,
                Conversation.channel_user_id == channel_user_id,
                Conversation.status == "open",
            )
        )

    def list_idle_open(self, owner: str, last_activity_before: datetime, limit: int) -> list[Conversation]:
        """Open conversations of `owner` with no message (or start) since `last_activity_before`."""
        last_activity = Conversation.last_message_at
        return list(
            self.session.scalars(
                select(Conversation)
                .where(
                    Conversation.status == "open",
                    Conversation.owner == owner,
                    or_(
                        last_activity <= last_activity_before,
                        last_activity.is_(None) & (Conversation.started_at <= last_activity_before),
                    ),
                )
                .order_by(Conversation.id)
                .limit(limit)
            )
        )

    def list_owner_changes(self, conversation_id: int) -> list[ConversationOwnerChange]:
        return list(
            self.session.scalars(
                select(ConversationOwnerChange)
                .where(ConversationOwnerChange.conversation_id == conversation_id)
                .order_by(ConversationOwnerChange.id)
            )
        )


class MessageRepository(Repository):
    def get(self, message_id: int) -> Message | None:
        return self.session.get(Message, message_id)

    def get_by_client_message_id(self, conversation_id: int, client_message_id: str) -> Message | None:
        return self.session.scalar(
            select(Message).where(
                Message.conversation_id == conversation_id, Message.client_message_id == client_message_id
            )
        )

    def list_replies(self, message_id: int) -> list[Message]:
        return list(
            self.session.scalars(
                select(Message)
                .where(Message.reply_to_id == message_id, Message.direction == "out")
                .order_by(Message.id)
            )
        )

    def list_latest(self, conversation_id: int, limit: int) -> list[Message]:
        """The newest `limit` messages of a conversation, oldest first."""
        newest_first = self.session.scalars(
            select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id.desc()).limit(limit)
        )
        return list(reversed(list(newest_first)))

    def list_after(self, conversation_id: int, after_id: int, limit: int) -> list[Message]:
        """Messages of a conversation with an id above `after_id`, oldest first."""
        return list(
            self.session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation_id, Message.id > after_id)
                .order_by(Message.id)
                .limit(limit)
            )
        )

    def list_after_for_user(self, channel: str, channel_user_id: str, after_id: int, limit: int) -> list[Message]:
        """Messages after `after_id` in any conversation of this channel user, oldest first."""
        return list(
            self.session.scalars(
                select(Message)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Conversation.channel == channel,
                    Conversation.channel_user_id == channel_user_id,
                    Message.id > after_id,
                )
                .order_by(Message.id)
                .limit(limit)
            )
        )

    def list_due_deliveries(self, channels: list[str], now: datetime, limit: int) -> list[int]:
        """Push-delivered messages waiting for a (re)try, or whose claim expired, on these channels."""
        return list(
            self.session.scalars(
                select(Message.id)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Message.delivery_state.in_(("pending", "sending")),
                    Message.next_attempt_at <= now,
                    Conversation.channel.in_(channels),
                )
                .order_by(Message.id)
                .limit(limit)
            )
        )
