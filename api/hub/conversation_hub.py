"""The conversation hub: inbound messages go to their owner, outbound messages go out through the broker.

Inbound: accept → store once → route to the owner (bot: ask Rasa; queue or agent: stay silent, the console
sees the message on the broker). The inbound row is keyed by (conversation, client_message_id), so a channel
retry finds the stored replies instead of asking Rasa a second time.

Outbound (`send`, and the bot's replies): store once in the transcript → publish on the broker → every API
process hands the message to the channel's delivery (api.hub.delivery). The bot's immediate replies are also
returned to the caller of `handle` (the widget's POST response, a WeChat passive reply).

The hub reads a conversation's owner; only crm.services.conversation_ownership changes it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from api.hub import csat_step
from api.hub.broker import Broker, InProcessBroker, topics
from api.hub.delivery import Deliveries, Delivery, PushPolicy, outbound_event
from api.hub.rasa_client import BotReply, RasaClient, RasaUnavailableError
from api.texts import text as hub_text
from core.settings import get_settings
from crm.enums import MessageSender
from crm.schemas import ConversationOut, CustomerOut, MessageOut, OutgoingMessage
from crm.services import conversation_ownership, conversations, csat, customers, queue

logger = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_POLL_SECONDS = 0.2
DEFAULT_IDLE = timedelta(minutes=30)
# How often each process retries due push deliveries; idle conversations are closed every IDLE_SWEEPS-th pass.
SWEEP_SECONDS = 5.0
IDLE_SWEEPS = 12


@dataclass(frozen=True)
class InboundMessage:
    """A customer message as a channel adapter hands it to the hub."""

    channel: str
    channel_user_id: str
    text: str
    client_message_id: str | None = None
    # A button's payload (e.g. "/request_human") goes to Rasa; `text` (the button title) goes to the transcript.
    rasa_payload: str | None = None
    # True: the channel returns the bot's replies in its own response (widget POST, WeChat passive reply), so a
    # push delivery must not send them again. False: the channel's push delivery sends them.
    replies_in_response: bool = True


@dataclass(frozen=True)
class HubResult:
    conversation: ConversationOut
    message: MessageOut
    replies: list[MessageOut]
    duplicate: bool


# The "不等了，留言" button under the queue message (domain.yml utter_handoff_queued).
LEAVE_MESSAGE_PAYLOAD = "/leave_message"
# Rasa's built-in intent that runs action_session_start with the message's metadata (a login mid-conversation).
SESSION_START = "/session_start"


class ConversationHub:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        rasa: RasaClient,
        reply_wait_seconds: float,
        actions_alive: Callable[[], Awaitable[bool]],
        broker: Broker | None = None,
        idle_after: timedelta = DEFAULT_IDLE,
        push_policy: PushPolicy | None = None,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self._session_factory = session_factory
        self._rasa = rasa
        self._reply_wait_seconds = reply_wait_seconds
        self._actions_alive = actions_alive
        self.broker: Broker = broker or InProcessBroker()
        self._idle_after = idle_after
        self._sweep_seconds = sweep_seconds
        self.deliveries = Deliveries(session_factory, self.broker, push_policy)
        # Channels' periodic clean-ups (e.g. WeChat's old reply claims), run with the idle sweep.
        self._housekeeping: list[Callable[[Session], object]] = []

    # --- lifecycle -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connects the broker and starts this process's delivery loop and sweeper."""
        await self.broker.start()
        ready = asyncio.Event()
        self.deliveries.spawn(self.deliveries.run(ready), name="hub-deliveries")
        self.deliveries.spawn(self._sweep_forever(), name="hub-sweeper")
        await asyncio.wait_for(ready.wait(), timeout=10.0)

    async def stop(self) -> None:
        await self.deliveries.stop()
        await self.broker.close()

    def register_delivery(self, channel: str, delivery: Delivery, *, push: bool = True) -> None:
        """The channel's way to reach a customer: push (one process delivers each message, with retries) or,
        with push=False, connection-bound (every process delivers to the connections it holds)."""
        self.deliveries.register(channel, delivery, push=push)

    def add_housekeeping(self, job: Callable[[Session], object]) -> None:
        """A channel's clean-up, run in its own transaction every IDLE_SWEEPS-th sweep (with the idle sweep)."""
        self._housekeeping.append(job)

    async def sweep(self, *, close_idle: bool = True) -> None:
        """One pass: close idle bot conversations and run the channels' clean-ups, retry due push deliveries."""
        if close_idle:
            closed = await self._in_session(conversation_ownership.close_idle_conversations, idle_for=self._idle_after)
            if closed:
                logger.info("closed %d idle conversations", len(closed))
            for job in self._housekeeping:
                try:
                    await self._in_session(job)
                except Exception:
                    logger.exception("housekeeping %s failed", getattr(job, "__name__", job))
        await self.deliveries.sweep()

    async def _sweep_forever(self) -> None:
        passes = 0
        while True:
            await asyncio.sleep(self._sweep_seconds)
            passes += 1
            try:
                await self.sweep(close_idle=passes % IDLE_SWEEPS == 0)
            except Exception:
                logger.exception("hub sweep failed")

    async def _in_session(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        def work() -> T:
            with self._session_factory.begin() as session:
                return fn(session, **kwargs)

        return await asyncio.to_thread(work)

    # --- inbound ---------------------------------------------------------------------------------------------

    async def handle(self, inbound: InboundMessage) -> HubResult:
        """Stores the message, routes it to its owner; returns the bot's immediate replies (none for queue/agent)."""
        customer, conversation, message, created = await self._in_session(
            _accept_inbound, inbound=inbound, idle_for=self._idle_after
        )
        if not created:
            replies = await self._wait_for_replies(message.id)
            return HubResult(conversation, message, replies, duplicate=True)
        await self._publish_inbound(conversation, message)

        if conversation.owner == "queue" and inbound.rasa_payload == LEAVE_MESSAGE_PAYLOAD:
            # "不等了，留言" pressed while waiting: the wait becomes a call-back and the bot has the conversation again.
            callback = await self._in_session(
                queue.leave_message, conversation_id=conversation.id, reason="customer chose to leave a message"
            )
            when = callback.callback_at.astimezone(ZoneInfo(get_settings().timezone)).strftime("%m月%d日 %H:%M")
            left = await self._store_and_publish(
                conversation.id,
                sender="system",
                messages=[OutgoingMessage(text=hub_text("message_left", callback_time=when))],
                reply_to_id=message.id,
                push=not inbound.replies_in_response,
            )
            return HubResult(conversation, message, left, duplicate=False)

        if conversation.owner != "bot":
            # The queue or the agent console answers; the bot stays silent meanwhile.
            return HubResult(conversation, message, [], duplicate=False)

        rated = await self._take_rating(conversation, message, inbound)
        if rated is not None:
            return HubResult(conversation, message, rated, duplicate=False)
        if csat_step.is_rating_button(inbound.rasa_payload):  # a stale rating button: Rasa reads its title
            inbound = replace(inbound, rasa_payload=None)

        bot_replies, sender = await self._ask_rasa(conversation, message, customer, inbound)
        replies = await self._store_and_publish(
            conversation.id,
            sender=sender,
            messages=[OutgoingMessage(text=reply.text, payload=reply.payload()) for reply in bot_replies],
            reply_to_id=message.id,
            push=not inbound.replies_in_response,
        )
        return HubResult(conversation, message, replies, duplicate=False)

    async def _take_rating(
        self, conversation: ConversationOut, message: MessageOut, inbound: InboundMessage
    ) -> list[MessageOut] | None:
        """The answer to the rating question after an agent closed the handoff (api/hub/csat_step.py): stored
        with the agent and escalation and thanked for, without Rasa. None when the message is not one."""
        button = csat_step.is_rating_button(inbound.rasa_payload)
        if not await self._in_session(
            csat.awaiting_rating, conversation_id=conversation.id, message_id=message.id, late=button
        ):
            return None
        rating = csat_step.read_rating(inbound.text, inbound.rasa_payload)
        if rating is None:
            return None
        await self._in_session(
            csat.record_csat, conversation_id=conversation.id, score=rating.score, comment=rating.comment
        )
        thanks = "csat_thanks_low" if rating.score <= csat.LOW_CSAT else "csat_thanks"
        return await self._store_and_publish(
            conversation.id,
            sender="system",
            messages=[OutgoingMessage(text=hub_text(thanks))],
            reply_to_id=message.id,
            push=not inbound.replies_in_response,
        )

    async def _publish_inbound(self, conversation: ConversationOut, message: MessageOut) -> None:
        event = outbound_event(conversation, [message]) | {"type": "inbound"}
        await self.broker.publish(topics.conversation(conversation.id), event)
        if conversation.owner != "bot":
            await self.broker.publish(topics.CONSOLE, event)

    async def _ask_rasa(
        self,
        conversation: ConversationOut,
        message: MessageOut,
        customer: CustomerOut | None,
        inbound: InboundMessage,
    ) -> tuple[list[BotReply], MessageSender]:
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

    # --- outbound --------------------------------------------------------------------------------------------

    async def send(
        self,
        conversation_id: int,
        *,
        sender: MessageSender,
        messages: list[OutgoingMessage],
        agent_id: int | None = None,
        reply_to_id: int | None = None,
    ) -> list[MessageOut]:
        """The one way to say something to a customer (agent reply, queue notice, CSAT question...):
        stored once, published, delivered by the conversation's channel. Returns the stored messages.

        A closed conversation still takes messages (e.g. a closing notice right after an agent closed it); they
        land in its transcript and reach the customer like any other. Unknown ids raise crm NotFoundError.
        """
        if sender == "customer":
            raise ValueError("customers' messages come in through handle()")
        if (sender == "agent") != (agent_id is not None):
            raise ValueError("agent_id is required exactly for agent messages")
        return await self._store_and_publish(
            conversation_id, sender=sender, messages=messages, reply_to_id=reply_to_id, agent_id=agent_id, push=True
        )

    async def _store_and_publish(
        self,
        conversation_id: int,
        *,
        sender: MessageSender,
        messages: list[OutgoingMessage],
        reply_to_id: int | None,
        push: bool,
        agent_id: int | None = None,
    ) -> list[MessageOut]:
        conversation, stored = await self._in_session(
            _store_outbound,
            conversation_id=conversation_id,
            sender=sender,
            messages=messages,
            reply_to_id=reply_to_id,
            agent_id=agent_id,
            push_channels=frozenset(self.deliveries.push_channels) if push else frozenset(),
        )
        if stored:
            event = outbound_event(conversation, stored)
            await self.broker.publish(topics.OUTBOUND, event)
            await self.broker.publish(topics.conversation(conversation.id), event)
            if conversation.owner != "bot":
                await self.broker.publish(topics.CONSOLE, event)
        return stored

    async def announce(self, conversation: ConversationOut, change: str) -> None:
        """Tells the consoles that a conversation changed (owner, status) after a crm service changed it,
        e.g. `announce(conversation, "owner")` after conversation_ownership.change_owner()."""
        event = {"type": change, "conversation": conversation.model_dump(mode="json"), "messages": []}
        await self.broker.publish(topics.CONSOLE, event)
        await self.broker.publish(topics.conversation(conversation.id), event)

    async def adopt_visitor(
        self, *, channel: str, from_channel_user_id: str, to_channel_user_id: str
    ) -> ConversationOut | None:
        """A visitor who logged in mid-conversation keeps it (crm.services.conversations.adopt_open_conversation).

        Rasa's conversation (its sender id, the slots of a form in progress) carries on; a `/session_start` with
        the customer's metadata makes the action server load the customer's profile into it (the other slots are
        carried over, domain.yml session_config)."""
        conversation = await self._in_session(
            conversations.adopt_open_conversation,
            channel=channel,
            from_channel_user_id=from_channel_user_id,
            to_channel_user_id=to_channel_user_id,
        )
        if conversation is None or conversation.customer_id is None or conversation.owner != "bot":
            return conversation
        customer = await self._in_session(customers.get_customer, customer_id=conversation.customer_id)
        metadata = {
            "channel": conversation.channel,
            "conversation_id": conversation.id,
            "message_id": None,
            "customer_id": conversation.customer_id,
            "tier": customer.tier if customer else None,
        }
        try:
            await self._rasa.send(sender_id=conversation.rasa_sender_id, message=SESSION_START, metadata=metadata)
        except RasaUnavailableError as exc:
            # The transcript is already the customer's; the bot learns who it is at its next session start.
            logger.warning("Rasa did not take the login of conversation %s: %s", conversation.id, exc)
        return conversation

    # --- reading ---------------------------------------------------------------------------------------------

    async def transcript(
        self, *, channel: str, channel_user_id: str
    ) -> tuple[ConversationOut | None, list[MessageOut]]:
        return await self._in_session(_open_transcript, channel=channel, channel_user_id=channel_user_id)

    async def catch_up(
        self, *, channel: str, channel_user_id: str, after_id: int
    ) -> tuple[ConversationOut | None, list[MessageOut]]:
        """What a reconnecting client missed after message `after_id` (0: the open conversation's transcript)."""
        return await self._in_session(
            conversations.catch_up, channel=channel, channel_user_id=channel_user_id, after_id=after_id
        )


def _accept_inbound(
    session: Session, *, inbound: InboundMessage, idle_for: timedelta
) -> tuple[CustomerOut | None, ConversationOut, MessageOut, bool]:
    customer = customers.find_customer_by_channel_identity(
        session, channel=inbound.channel, channel_user_id=inbound.channel_user_id
    )
    conversation = conversations.get_or_open_conversation(
        session,
        channel=inbound.channel,
        channel_user_id=inbound.channel_user_id,
        customer_id=customer.id if customer else None,
        idle_for=idle_for,
    )
    message, created = conversations.record_inbound_message(
        session,
        conversation_id=conversation.id,
        text=inbound.text,
        client_message_id=inbound.client_message_id,
    )
    return customer, conversation, message, created


def _store_outbound(
    session: Session,
    *,
    conversation_id: int,
    sender: str,
    messages: list[OutgoingMessage],
    reply_to_id: int | None,
    agent_id: int | None,
    push_channels: frozenset[str],
) -> tuple[ConversationOut, list[MessageOut]]:
    conversation = conversations.get_conversation(session, conversation_id=conversation_id)
    stored = conversations.record_outbound_messages(
        session,
        conversation_id=conversation_id,
        reply_to_id=reply_to_id,
        sender=sender,
        messages=messages,
        agent_id=agent_id,
        push_delivery=conversation.channel in push_channels,
    )
    return conversation, stored


def _open_transcript(
    session: Session, *, channel: str, channel_user_id: str
) -> tuple[ConversationOut | None, list[MessageOut]]:
    conversation = conversations.find_open_conversation(session, channel=channel, channel_user_id=channel_user_id)
    if conversation is None:
        return None, []
    return conversation, conversations.list_transcript(session, conversation_id=conversation.id)
