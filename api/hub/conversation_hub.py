"""Routes each customer message to its owner (bot or agent) and keeps the transcript.

Every message is written once: the inbound row is keyed by (conversation, client_message_id), so a
channel retry finds the stored replies instead of asking Rasa a second time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from api.hub.rasa_client import BotReply, RasaClient, RasaUnavailableError
from api.texts import text as hub_text
from crm.schemas import ConversationOut, CustomerOut, MessageOut, OutgoingMessage
from crm.services import conversations, customers

logger = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class InboundMessage:
    """A customer message as a channel adapter hands it to the hub."""

    channel: str
    channel_user_id: str
    text: str
    client_message_id: str | None = None
    # A button's payload (e.g. "/request_human") goes to Rasa; `text` (the button title) goes to the transcript.
    rasa_payload: str | None = None


@dataclass(frozen=True)
class HubResult:
    conversation: ConversationOut
    message: MessageOut
    replies: list[MessageOut]
    duplicate: bool


class ConversationHub:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        rasa: RasaClient,
        reply_wait_seconds: float,
        actions_alive: Callable[[], Awaitable[bool]],
    ) -> None:
        self._session_factory = session_factory
        self._rasa = rasa
        self._reply_wait_seconds = reply_wait_seconds
        self._actions_alive = actions_alive

    async def _in_session(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        def work() -> T:
            with self._session_factory.begin() as session:
                return fn(session, **kwargs)

        return await asyncio.to_thread(work)

    async def handle(self, inbound: InboundMessage) -> HubResult:
        """Stores the message, gets the replies from its owner, stores them, returns them."""
        customer, conversation, message, created = await self._in_session(_accept_inbound, inbound=inbound)
        if not created:
            replies = await self._wait_for_replies(message.id)
            return HubResult(conversation, message, replies, duplicate=True)

        if conversation.owner == "agent":
            # The agent console delivers this message; the bot stays silent while an agent owns the conversation.
            return HubResult(conversation, message, [], duplicate=False)

        bot_replies, sender = await self._ask_rasa(conversation, message, customer, inbound)
        replies = await self._in_session(
            conversations.record_outbound_messages,
            conversation_id=conversation.id,
            reply_to_id=message.id,
            sender=sender,
            messages=[OutgoingMessage(text=reply.text, payload=reply.payload()) for reply in bot_replies],
        )
        return HubResult(conversation, message, replies, duplicate=False)

    async def _ask_rasa(
        self,
        conversation: ConversationOut,
        message: MessageOut,
        customer: CustomerOut | None,
        inbound: InboundMessage,
    ) -> tuple[list[BotReply], str]:
        metadata = {
            "channel": conversation.channel,
            "conversation_id": conversation.id,
            "message_id": message.id,
            "customer_id": customer.id if customer else None,
            "tier": customer.tier if customer else None,
        }
        try:
            replies = await self._rasa.send(
                sender_id=conversation.rasa_sender_id,
                message=inbound.rasa_payload or inbound.text,
                metadata=metadata,
            )
        except RasaUnavailableError as exc:
            logger.error("Rasa unavailable for conversation %s message %s: %s", conversation.id, message.id, exc)
            return [BotReply(text=hub_text("system_busy"))], "system"
        if not replies or not await self._actions_alive():
            # With the action server down, Rasa still answers 200: with nothing, or with its generic fallback
            # ("please rephrase"), which would mislead. Every customer message deserves an honest answer.
            logger.error(
                "No reliable reply to conversation %s message %s (action server down?)", conversation.id, message.id
            )
            return [BotReply(text=hub_text("system_busy"))], "system"
        return replies, "bot"

    async def _wait_for_replies(self, message_id: int) -> list[MessageOut]:
        """A retry of a message still being answered waits for the first attempt's replies."""
        deadline = time.monotonic() + self._reply_wait_seconds
        while True:
            replies = await self._in_session(conversations.list_replies, message_id=message_id)
            if replies or time.monotonic() >= deadline:
                return replies
            await asyncio.sleep(RETRY_POLL_SECONDS)

    async def transcript(
        self, *, channel: str, channel_user_id: str
    ) -> tuple[ConversationOut | None, list[MessageOut]]:
        return await self._in_session(_open_transcript, channel=channel, channel_user_id=channel_user_id)


def _accept_inbound(
    session: Session, *, inbound: InboundMessage
) -> tuple[CustomerOut | None, ConversationOut, MessageOut, bool]:
    customer = customers.find_customer_by_channel_identity(
        session, channel=inbound.channel, channel_user_id=inbound.channel_user_id
    )
    conversation = conversations.get_or_open_conversation(
        session,
        channel=inbound.channel,
        channel_user_id=inbound.channel_user_id,
        customer_id=customer.id if customer else None,
    )
    message, created = conversations.record_inbound_message(
        session,
        conversation_id=conversation.id,
        text=inbound.text,
        client_message_id=inbound.client_message_id,
    )
    return customer, conversation, message, created


def _open_transcript(
    session: Session, *, channel: str, channel_user_id: str
) -> tuple[ConversationOut | None, list[MessageOut]]:
    conversation = conversations.find_open_conversation(session, channel=channel, channel_user_id=channel_user_id)
    if conversation is None:
        return None, []
    return conversation, conversations.list_transcript(session, conversation_id=conversation.id)
