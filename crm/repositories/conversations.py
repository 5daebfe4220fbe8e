"""Conversation and transcript look-ups."""

from __future__ import annotations

from sqlalchemy import select

from crm.models import Conversation, Message
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
