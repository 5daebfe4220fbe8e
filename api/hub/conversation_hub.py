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
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from api.hub import csat_step
from api.hub.broker import Broker, InProcessBroker, topics
from api.hub.delivery import Deliveries, Delivery, PushPolicy, outbound_event
from api.hub.nlu_record import reading_from_parse
from api.hub.rasa_client import BotReply, RasaNotReachedError, RasaUnavailableError
from api.hub.rasa_replicas import RasaReplicas
from api.texts import text as hub_text
from core.rate_limits import RateLimit
from crm.enums import MessageSender
from crm.formatting import moment_text
from crm.schemas import ConversationOut, CustomerOut, MessageOut, OutgoingMessage
from crm.services import conversation_ownership, conversations, csat, customers, pending_turns, queue, queue_updates
from crm.services.analytics.nlu import record_nlu

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


# Rasa reads a message starting with "/" as an intent ("/restart" resets the tracker, identity included).
# Typed text is never that: its slash becomes the full-width one, which NLU reads the same. Rasa's internal
# intents are never taken from a channel, button or not.
INTENT_PREFIX = "/"
TYPED_SLASH = "／"
INTERNAL_INTENTS = frozenset({"restart", "session_start", "back"})


def rasa_message_for(inbound: InboundMessage) -> str:
    """What Rasa is sent for a customer message: the button's payload, or the typed text."""
    payload = inbound.rasa_payload
    if payload and payload.startswith(INTENT_PREFIX):
        intent = payload[1:].split("{", 1)[0].split("@", 1)[0].strip()
        if intent not in INTERNAL_INTENTS:
            return payload
    text = inbound.text
    return TYPED_SLASH + text[1:] if text.startswith(INTENT_PREFIX) else text


def outgoing(replies: list[BotReply]) -> list[OutgoingMessage]:
    """The bot's replies as messages to store and deliver."""
    return [OutgoingMessage(text=reply.text, payload=reply.payload()) for reply in replies]


@dataclass(frozen=True)
class HubResult:
    conversation: ConversationOut
    message: MessageOut
    replies: list[MessageOut]
    duplicate: bool


# Slots that are the bot's own bookkeeping, not something the customer told it (the console leaves them out).
BOOKKEEPING_SLOTS = frozenset(
    {
        "requested_slot",
        "session_started_metadata",
        "handoff_conversation_id",
        "handoff_requests",
        "handoff_mobile_asked",
        "handoff_awaiting_mobile",
        "invalid_attempts",
        "customer_identified",
    }
)

# The "不等了，留言" button under the queue message (domain.yml utter_handoff_queued).
LEAVE_MESSAGE_PAYLOAD = "/leave_message"
# Rasa's built-in intent that runs action_session_start with the message's metadata (a login mid-conversation).
SESSION_START = "/session_start"


class ConversationHub:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        rasa: RasaReplicas,
        reply_wait_seconds: float,
        broker: Broker | None = None,
        idle_after: timedelta = DEFAULT_IDLE,
        push_policy: PushPolicy | None = None,
        sweep_seconds: float = SWEEP_SECONDS,
        rasa_wait_seconds: float | None = None,
        message_limit: RateLimit | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._rasa = rasa
        self._reply_wait_seconds = reply_wait_seconds
        # How long a customer waits for Rasa; a later answer still reaches them through the outbound path.
        self._rasa_wait_seconds = rasa_wait_seconds if rasa_wait_seconds is not None else reply_wait_seconds
        self._message_limit = message_limit
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
        """One pass: record overdue first responses as SLA breaches (so they count even when nobody opens the
        console; a conditional UPDATE, idempotent across processes), answer turns held while Rasa was
        unreachable, close idle bot conversations and run the channels' clean-ups, retry due push deliveries."""
        breached = await self._in_session(queue.detect_breaches)
        if breached:
            logger.info("SLA breached by escalations %s", breached)
        if close_idle:
            closed = await self._in_session(conversation_ownership.close_idle_conversations, idle_for=self._idle_after)
            if closed:
                logger.info("closed %d idle conversations", len(closed))
            expired = await self._in_session(pending_turns.expire_stale, older_than=self._idle_after)
            if expired:
                logger.warning("gave up %d held turns (held longer than a conversation lives)", expired)
            for job in self._housekeeping:
                try:
                    await self._in_session(job)
                except Exception:
                    logger.exception("housekeeping %s failed", getattr(job, "__name__", job))
        await self.replay_held_turns()
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
            when = moment_text(callback.callback_at)
            left = await self._store_and_publish(
                conversation.id,
                sender="system",
                messages=[OutgoingMessage(text=hub_text("message_left", callback_time=when))],
                reply_to_id=message.id,
                push=not inbound.replies_in_response,
            )
            await self.notify_queue()  # the ones behind moved up
            return HubResult(conversation, message, left, duplicate=False)

        if conversation.owner != "bot":
            # The queue or the agent console answers; the bot stays silent meanwhile.
            return HubResult(conversation, message, [], duplicate=False)

        flood = await self._flood_notice(conversation, message, customer, inbound)
        if flood is not None:
            return HubResult(conversation, message, flood, duplicate=False)
        rated = await self._take_rating(conversation, message, inbound)
        if rated is not None:
            return HubResult(conversation, message, rated, duplicate=False)
        if csat_step.is_rating_button(inbound.rasa_payload):  # a stale rating button: Rasa reads its title
            inbound = replace(inbound, rasa_payload=None)

        # Older turns held while Rasa was unreachable go first, so the bot reads the conversation in order.
        await self.replay_held_turns(conversation_id=conversation.id)
        sender: MessageSender = "system"
        if await self._in_session(pending_turns.has_waiting, conversation_id=conversation.id):
            bot_replies = await self._hold(conversation, message, inbound)
        else:
            bot_replies, sender = await self._ask_rasa(conversation, message, customer, inbound)
        replies = await self._store_and_publish(
            conversation.id,
            sender=sender,
            messages=outgoing(bot_replies),
            reply_to_id=message.id,
            push=not inbound.replies_in_response,
        )
        if replies and (replies[-1].payload or {}).get(queue_updates.POSITION_KEY) is not None:
            await self.notify_queue()  # this turn queued the conversation: the ones behind it moved back
        if sender == "bot":
            sent = rasa_message_for(inbound)
            self.deliveries.spawn(self._record_nlu(conversation, message, sent), name="hub-nlu-record")
        return HubResult(conversation, message, replies, duplicate=False)

    async def _flood_notice(
        self, conversation: ConversationOut, message: MessageOut, customer: CustomerOut | None, inbound: InboundMessage
    ) -> list[MessageOut] | None:
        """Too many messages from one conversation or customer: kept in the transcript, not sent to the bot, and
        the customer asked to slow down. None when within the limit."""
        if self._message_limit is None:
            return None
        keys = [f"conversation:{conversation.id}"] + ([f"customer:{customer.id}"] if customer else [])
        verdict = await asyncio.to_thread(self._message_limit.take, *keys)
        if verdict.allowed:
            return None
        logger.warning("conversation %s over the message rate limit", conversation.id)
        return await self._store_and_publish(
            conversation.id,
            sender="system",
            messages=[OutgoingMessage(text=hub_text("too_many_messages", seconds=round(verdict.retry_after_seconds)))],
            reply_to_id=message.id,
            push=not inbound.replies_in_response,
        )

    async def _record_nlu(self, conversation: ConversationOut, message: MessageOut, sent: str) -> None:
        """Stores what Rasa understood of `message` (sent to Rasa as `sent`) on it, for analytics
        (api/hub/nlu_record.py)."""
        try:
            parse = await self._rasa.latest_parse(sender_id=conversation.rasa_sender_id)
            reading = reading_from_parse(parse, sent=sent)
            if reading is not None:
                await self._in_session(record_nlu, message_id=message.id, reading=reading)
        except Exception as exc:  # analytics only: the conversation is unaffected
            logger.warning("NLU reading of message %s not recorded: %s", message.id, exc)

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

    def _rasa_metadata(
        self, conversation: ConversationOut, message_id: int | None, customer: CustomerOut | None
    ) -> dict[str, Any]:
        return {
            "channel": conversation.channel,
            "conversation_id": conversation.id,
            "message_id": message_id,
            "customer_id": customer.id if customer else None,
            "tier": customer.tier if customer else None,
        }

    async def _ask_rasa(
        self,
        conversation: ConversationOut,
        message: MessageOut,
        customer: CustomerOut | None,
        inbound: InboundMessage,
    ) -> tuple[list[BotReply], MessageSender]:
        asking = asyncio.ensure_future(
            self._rasa.send(
                sender_id=conversation.rasa_sender_id,
                message=rasa_message_for(inbound),
                metadata=self._rasa_metadata(conversation, message.id, customer),
            )
        )
        done, _ = await asyncio.wait({asking}, timeout=self._rasa_wait_seconds)
        if not done:
            # Rasa is still on it: the customer hears "busy, we will go on" now and the real answer when it comes.
            logger.warning(
                "Rasa slow on conversation %s message %s; its answer will follow", conversation.id, message.id
            )
            self.deliveries.spawn(self._deliver_late(asking, conversation.id, message.id), name=f"late-{message.id}")
            return [BotReply(text=hub_text("system_busy"))], "system"
        try:
            return asking.result(), "bot"
        except RasaNotReachedError as exc:
            logger.error("No Rasa server took conversation %s message %s: %s", conversation.id, message.id, exc)
            return await self._hold(conversation, message, inbound), "system"
        except RasaUnavailableError as exc:
            logger.error("No reliable reply to conversation %s message %s: %s", conversation.id, message.id, exc)
            return [BotReply(text=hub_text("system_busy"))], "system"

    async def _hold(
        self, conversation: ConversationOut, message: MessageOut, inbound: InboundMessage
    ) -> list[BotReply]:
        """Rasa never saw the message: keep it, answer it when a Rasa server is back (replay_held_turns)."""
        await self._in_session(
            pending_turns.hold,
            message_id=message.id,
            conversation_id=conversation.id,
            rasa_message=rasa_message_for(inbound),
        )
        return [BotReply(text=hub_text("system_busy"))]

    async def _deliver_late(
        self, asking: asyncio.Future[list[BotReply]], conversation_id: int, message_id: int
    ) -> None:
        try:
            replies = await asking
        except RasaUnavailableError as exc:
            logger.error("Rasa's late answer to message %s failed too: %s", message_id, exc)
            return
        await self._answer_later(conversation_id, message_id, replies)

    async def _answer_later(self, conversation_id: int, message_id: int, replies: list[BotReply]) -> None:
        """The bot's answer to a message the customer already got the busy notice for: pushed, not in a response."""
        await self._store_and_publish(
            conversation_id, sender="bot", messages=outgoing(replies), reply_to_id=message_id, push=True
        )

    async def replay_held_turns(self, conversation_id: int | None = None) -> int:
        """Answers held turns (of one conversation, or all) oldest first while a Rasa server takes them;
        the answers reach the customer through the outbound path. Returns how many were answered."""
        answered = 0
        while (turn := await self._in_session(pending_turns.claim_next, conversation_id=conversation_id)) is not None:
            conversation = await self._in_session(conversations.get_conversation, conversation_id=turn.conversation_id)
            if conversation.owner != "bot" or conversation.status != "open":
                await self._in_session(pending_turns.finish, message_id=turn.message_id)  # an agent has it now
                continue
            customer = (
                await self._in_session(customers.get_customer, customer_id=conversation.customer_id)
                if conversation.customer_id is not None
                else None
            )
            try:
                replies = await self._rasa.send(
                    sender_id=conversation.rasa_sender_id,
                    message=turn.rasa_message,
                    metadata=self._rasa_metadata(conversation, turn.message_id, customer),
                )
            except RasaNotReachedError:
                await self._in_session(pending_turns.release, message_id=turn.message_id)
                return answered  # still down: the turn and the ones after it wait for the next pass
            except RasaUnavailableError as exc:
                # Rasa saw it this time: replaying again could run the turn twice.
                logger.error("Held message %s reached Rasa but got no reliable answer: %s", turn.message_id, exc)
                await self._in_session(pending_turns.finish, message_id=turn.message_id)
                continue
            await self._answer_later(conversation.id, turn.message_id, replies)
            await self._in_session(pending_turns.finish, message_id=turn.message_id)
            answered += 1
        return answered

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

    async def notify_queue(self) -> None:
        """Tells every waiting customer whose queue position changed their new position and wait (with the
        option to leave a message instead). Called after whatever moves the queue; a failure is logged, never
        raised, as the change that moved the queue is already committed."""
        try:
            updates = await self._in_session(queue_updates.pending_updates)
            for update in updates:
                key = "queue_position_next" if update.ahead == 0 else "queue_position"
                wait_minutes = max(1, -(-update.estimated_wait_seconds // 60))
                notice = OutgoingMessage(
                    text=hub_text(key, ahead=update.ahead, position=update.position, wait_minutes=wait_minutes),
                    payload={
                        queue_updates.POSITION_KEY: update.position,
                        "buttons": [{"title": hub_text("leave_message_button"), "payload": LEAVE_MESSAGE_PAYLOAD}],
                    },
                )
                await self.send(update.conversation_id, sender="system", messages=[notice])
        except Exception:
            logger.exception("queue position notices failed")

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
        metadata = self._rasa_metadata(conversation, None, customer)
        try:
            await self._rasa.send(sender_id=conversation.rasa_sender_id, message=SESSION_START, metadata=metadata)
        except RasaUnavailableError as exc:
            # The transcript is already the customer's; the bot learns who it is at its next session start.
            logger.warning("Rasa did not take the login of conversation %s: %s", conversation.id, exc)
        return conversation

    # --- reading ---------------------------------------------------------------------------------------------

    async def collected_slots(self, conversation: ConversationOut) -> dict[str, Any]:
        """What the bot collected in the conversation (its Rasa tracker's filled slots, bookkeeping left out)."""
        slots = await self._rasa.slots(sender_id=conversation.rasa_sender_id)
        return {
            name: value
            for name, value in slots.items()
            if value not in (None, "", [], {}) and name not in BOOKKEEPING_SLOTS
        }

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
    if conversation.owner == "queue" and sender == "bot" and messages:
        # The bot's reply in the turn that queued the conversation tells the position: the notices' baseline.
        last = messages[-1]
        stamped = queue_updates.stamp_position(session, conversation_id=conversation_id, payload=last.payload)
        messages = [*messages[:-1], OutgoingMessage(text=last.text, payload=stamped)]
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
