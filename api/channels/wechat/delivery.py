"""Pushes outbound messages to a WeChat user through the customer-service message API (客服消息).

Used for answers that miss the passive-reply window and, once the hub delivers per channel, for agent and
system messages (`hub.register_delivery("wechat", WeChatDelivery(...))`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy.orm import Session, sessionmaker

from api.channels.wechat.api_client import OUTSIDE_48_HOUR_WINDOW, WeChatApiClient, WeChatApiError
from api.channels.wechat.render import Rendered, render_batch
from crm.schemas import ConversationOut, MessageOut
from crm.services import wechat_state

logger = logging.getLogger(__name__)


class WeChatDelivery:
    def __init__(self, api: WeChatApiClient, session_factory: sessionmaker[Session]) -> None:
        self._api = api
        self._session_factory = session_factory

    async def deliver(self, conversation: ConversationOut, message: MessageOut) -> None:
        await self.deliver_batch(conversation, [message])

    async def deliver_batch(self, conversation: ConversationOut, messages: Sequence[MessageOut]) -> None:
        """Sends the messages in order, numbering their buttons together.

        45015 (the user has not written for 48 hours) is recorded and ends the delivery: WeChat will refuse
        every retry until the user writes again. Other API errors are recorded and raised to the caller.
        """
        rendered = render_batch(messages)
        await asyncio.to_thread(self._remember_choices, conversation.id, rendered)
        for message_id, texts in rendered.texts_by_message:
            for content in texts:
                try:
                    await self._api.send_text(conversation.channel_user_id, content)
                except WeChatApiError as exc:
                    await asyncio.to_thread(self._record_failure, conversation.channel_user_id, message_id, exc)
                    if exc.errcode == OUTSIDE_48_HOUR_WINDOW:
                        logger.warning(
                            "WeChat user of conversation %s is outside the 48-hour window; message %s not delivered",
                            conversation.id,
                            message_id,
                        )
                        return
                    raise

    def _remember_choices(self, conversation_id: int, rendered: Rendered) -> None:
        with self._session_factory.begin() as session:
            wechat_state.remember_choices(session, conversation_id=conversation_id, choices=rendered.choices)

    def _record_failure(self, openid: str, message_id: int, error: WeChatApiError) -> None:
        with self._session_factory.begin() as session:
            wechat_state.record_delivery_failure(
                session, openid=openid, message_id=message_id, errcode=error.errcode, errmsg=error.errmsg
            )
