"""The WeChat channel's core: what each message or event means, and the 5-second rule.

WeChat waits 5 s for the HTTP answer, then retries the same message (up to 3 times). The first attempt
of a message (claimed in the database, so across API processes) asks the hub; if the answer is ready
within `wechat_passive_reply_seconds` it is the HTTP response (passive reply), otherwise the response is
`success` and the answer is pushed through the customer-service API when ready. A retry never asks
again: it answers `success`, and if the first attempt is still working it moves the message to push so
the answer reaches the customer whichever HTTP connection WeChat is still listening on.
"""

from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy.orm import Session, sessionmaker

from api.channels.wechat.api_client import WeChatApiClient
from api.channels.wechat.binding import OpenidBinding, SmsSender
from api.channels.wechat.delivery import WeChatDelivery
from api.channels.wechat.menu import menu_clicks
from api.channels.wechat.protocol import CallbackQuery, Incoming, WeChatProtocol
from api.channels.wechat.render import join_for_one_reply, render_batch
from api.channels.wechat.texts import wechat_text
from api.hub.conversation_hub import ConversationHub, InboundMessage
from api.texts import text as hub_text
from core.settings import Settings
from crm.schemas import ConversationOut, MessageOut
from crm.services import conversations, wechat_state

logger = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "wechat"
SUCCESS = "success"  # WeChat's "received, nothing to say now"
MEDIA_TYPES = frozenset({"image", "voice", "video", "shortvideo", "location", "link", "file"})
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CHOICE_NUMBER = re.compile(r"^\d{1,2}$")
STALE_CLAIM_MARGIN_SECONDS = 5.0


@dataclass(frozen=True)
class Outcome:
    """What a message leads to: stored replies from the hub, or a channel notice that is not part of a turn."""

    conversation: ConversationOut | None = None
    replies: list[MessageOut] = field(default_factory=list)
    notice: str | None = None


class WeChatChannel:
    def __init__(
        self,
        *,
        hub: ConversationHub,
        session_factory: sessionmaker[Session],
        settings: Settings,
        http: httpx.AsyncClient,
        sms: SmsSender,
    ) -> None:
        self._hub = hub
        self._session_factory = session_factory
        self._settings = settings
        self.protocol = WeChatProtocol(
            token=settings.wechat_token, aes_key=settings.wechat_aes_key, appid=settings.wechat_appid
        )
        self.api = WeChatApiClient(
            http=http,
            base_url=settings.wechat_api_base,
            appid=settings.wechat_appid,
            secret=settings.wechat_secret,
            session_factory=session_factory,
        )
        self.delivery = WeChatDelivery(self.api, session_factory)
        self._binding = OpenidBinding(session_factory, sms, settings.wechat_secret)
        self._background: set[asyncio.Task[None]] = set()
        # A live first attempt settles its claim within the passive window; one pending much longer has died.
        self._stale_claim = timedelta(seconds=settings.wechat_passive_reply_seconds + STALE_CLAIM_MARGIN_SECONDS)

    async def _in_session(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        def work() -> T:
            with self._session_factory.begin() as session:
                return fn(session, **kwargs)

        return await asyncio.to_thread(work)

    # --- the 5-second rule -------------------------------------------------------------------------------

    async def answer(self, query: CallbackQuery, incoming: Incoming) -> str:
        """The HTTP response body for one verified message: a passive reply or `success`."""
        first = await self._in_session(
            wechat_state.claim_inbound, msg_key=incoming.key, openid=incoming.openid, stale_after=self._stale_claim
        )
        if not first:
            moved = await self._in_session(wechat_state.switch_to_push, msg_key=incoming.key)
            logger.info("WeChat retry of %s (%s)", incoming.key, "moved to push" if moved else "already answered")
            return SUCCESS
        work = asyncio.create_task(self._understand(incoming))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(work), timeout=self._settings.wechat_passive_reply_seconds)
        except asyncio.TimeoutError:
            await self._in_session(wechat_state.switch_to_push, msg_key=incoming.key)
            self._spawn(self._push_when_ready(work, incoming))
            return SUCCESS
        except asyncio.CancelledError:
            # WeChat hung up (or the server is stopping) while the answer is being worked out: push it instead.
            if not work.done():
                await self._in_session(wechat_state.switch_to_push, msg_key=incoming.key)
                self._spawn(self._push_when_ready(work, incoming))
            raise
        except BaseException:
            # Nothing was answered: let WeChat's retry start again (the hub keeps the inbound row once).
            await self._in_session(wechat_state.release_inbound, msg_key=incoming.key)
            raise
        return await self._answer_in_time(query, incoming, outcome)

    async def _answer_in_time(self, query: CallbackQuery, incoming: Incoming, outcome: Outcome) -> str:
        rendered = render_batch(outcome.replies)
        texts = [outcome.notice] if outcome.notice else rendered.texts
        one_reply = join_for_one_reply(texts) if texts else None
        if one_reply is not None and await self._in_session(wechat_state.settle_passive, msg_key=incoming.key):
            if outcome.conversation is not None and outcome.replies:
                await self._in_session(
                    wechat_state.remember_choices, conversation_id=outcome.conversation.id, choices=rendered.choices
                )
            return self.protocol.reply(query, incoming, one_reply)
        if not texts:
            await self._in_session(wechat_state.settle_passive, msg_key=incoming.key)
            return SUCCESS
        # Too long for one passive reply, or a retry moved it to push meanwhile.
        await self._in_session(wechat_state.switch_to_push, msg_key=incoming.key)
        self._spawn(self._push(incoming, outcome))
        return SUCCESS

    async def _push_when_ready(self, work: asyncio.Task[Outcome], incoming: Incoming) -> None:
        try:
            outcome = await work
        except Exception:
            logger.exception("WeChat message %s failed after switching to push", incoming.key)
            outcome = Outcome(notice=hub_text("system_busy"))
        await self._push(incoming, outcome)

    async def _push(self, incoming: Incoming, outcome: Outcome) -> None:
        try:
            if outcome.notice:
                await self.api.send_text(incoming.openid, outcome.notice)
            elif outcome.conversation is not None and outcome.replies:
                await self.delivery.deliver_batch(outcome.conversation, outcome.replies)
        except Exception:
            logger.exception("Pushing the answer to WeChat message %s failed", incoming.key)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self, timeout_seconds: float = 10.0) -> None:
        """Lets pushes in flight finish (at shutdown)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout_seconds)

    # --- what a message means ----------------------------------------------------------------------------

    async def _understand(self, incoming: Incoming) -> Outcome:
        if incoming.msg_type == "text":
            return await self._text(incoming, incoming.content)
        if incoming.msg_type == "voice" and incoming.recognition:
            return await self._text(incoming, incoming.recognition)
        if incoming.msg_type == "event":
            return await self._event(incoming)
        if incoming.msg_type == "image" and await self._agent_owns(incoming.openid):
            result = await self._to_hub(incoming, f"[图片] {incoming.pic_url or ''}".strip())
            return Outcome(conversation=result[0], notice=wechat_text("image_forwarded"))
        if incoming.msg_type in MEDIA_TYPES:
            return Outcome(notice=wechat_text("text_only"))
        logger.info("Ignoring WeChat message type %r", incoming.msg_type)
        return Outcome()

    async def _text(self, incoming: Incoming, raw: str) -> Outcome:
        content = _CONTROL_CHARS.sub("", raw).strip()
        if not content:
            return Outcome(notice=hub_text("empty_message"))
        limit = self._settings.max_message_chars
        if len(content) > limit:
            return Outcome(notice=hub_text("message_too_long", length=len(content), limit=limit))
        binding_reply = await self._binding.answer(incoming.openid, content)
        if binding_reply is not None:
            return Outcome(notice=binding_reply)
        number = unicodedata.normalize("NFKC", content)
        if _CHOICE_NUMBER.fullmatch(number):
            choice = await self._in_session(
                wechat_state.offered_choice, channel_user_id=incoming.openid, number=int(number)
            )
            if choice is not None:
                conversation, replies = await self._to_hub(incoming, choice["title"], choice["payload"] or None)
                return Outcome(conversation=conversation, replies=replies)
        conversation, replies = await self._to_hub(incoming, content)
        return Outcome(conversation=conversation, replies=replies)

    async def _event(self, incoming: Incoming) -> Outcome:
        if incoming.event in ("subscribe", "subscribe_scan"):
            await self._in_session(wechat_state.record_subscription, openid=incoming.openid, subscribed=True)
            return Outcome(notice=wechat_text("welcome"))
        if incoming.event == "unsubscribe":
            await self._in_session(wechat_state.record_subscription, openid=incoming.openid, subscribed=False)
            return Outcome()
        if incoming.event == "click":
            click = menu_clicks().get(incoming.event_key or "")
            if click is None:
                logger.warning("Unknown WeChat menu key %r", incoming.event_key)
                return Outcome()
            conversation, replies = await self._to_hub(incoming, click.name, click.rasa_payload)
            return Outcome(conversation=conversation, replies=replies)
        return Outcome()

    async def _to_hub(
        self, incoming: Incoming, text: str, rasa_payload: str | None = None
    ) -> tuple[ConversationOut, list[MessageOut]]:
        result = await self._hub.handle(
            InboundMessage(
                channel=CHANNEL,
                channel_user_id=incoming.openid,
                text=text,
                client_message_id=incoming.key,
                rasa_payload=rasa_payload,
            )
        )
        # Only the attempt holding the claim gets here; a duplicate means an earlier attempt stored the message
        # and then failed (its claim was released), so its replies, if any, were never delivered.
        return result.conversation, result.replies

    async def _agent_owns(self, openid: str) -> bool:
        conversation = await self._in_session(
            conversations.find_open_conversation, channel=CHANNEL, channel_user_id=openid
        )
        return conversation is not None and conversation.owner == "agent"
