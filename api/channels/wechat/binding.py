"""Binds a WeChat openid to a CRM customer: the customer sends "绑定 <mobile on file>", receives a one-time
code by SMS and replies with it. Codes expire and attempts are limited; whether a mobile is on file is
never revealed (the answer is the same either way)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from datetime import timedelta
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from api.channels.wechat.texts import wechat_text
from crm.formatting import mask_mobile
from crm.services import customers, wechat_state
from crm.services.wechat_state import BindingResult

logger = logging.getLogger(__name__)

BIND_COMMAND_RE = re.compile(r"^\s*绑定(?:手机号?)?\s*[:：]?\s*(\S*)\s*$")
MOBILE_RE = re.compile(r"^1\d{10}$")
CODE_RE = re.compile(r"^\s*(\d{6})\s*$")
CODE_VALID_FOR = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5


class SmsSender(Protocol):
    async def send(self, mobile: str, text: str) -> None: ...


class LoggingSmsSender:
    """The development SMS gateway: writes the message to the log (where a developer can read the code)."""

    async def send(self, mobile: str, text: str) -> None:
        logger.info("SMS to %s: %s", mask_mobile(mobile), text)


class OpenidBinding:
    def __init__(self, session_factory: sessionmaker[Session], sms: SmsSender, secret: str) -> None:
        self._session_factory = session_factory
        self._sms = sms
        self._secret = secret.encode()

    def _hash(self, openid: str, code: str) -> str:
        return hmac.new(self._secret, f"{openid}:{code}".encode(), hashlib.sha256).hexdigest()

    async def answer(self, openid: str, text: str) -> str | None:
        """The reply when `text` is part of the binding dialogue, else None (the message goes to the hub)."""
        command = BIND_COMMAND_RE.fullmatch(text)
        if command is not None:
            return await self._start(openid, command.group(1))
        code = CODE_RE.fullmatch(text)
        if code is not None and await asyncio.to_thread(self._pending, openid):
            return await asyncio.to_thread(self._confirm, openid, code.group(1))
        return None

    async def _start(self, openid: str, mobile: str) -> str:
        if not MOBILE_RE.fullmatch(mobile):
            return wechat_text("bind_invalid_mobile")
        code = f"{secrets.randbelow(10**6):06d}"
        customer_id = await asyncio.to_thread(self._start_in_db, openid, mobile, code)
        minutes = int(CODE_VALID_FOR.total_seconds() // 60)
        if customer_id is not None:
            await self._sms.send(mobile, wechat_text("bind_sms", code=code, minutes=minutes))
        return wechat_text("bind_code_sent", masked_mobile=mask_mobile(mobile), minutes=minutes)

    def _start_in_db(self, openid: str, mobile: str, code: str) -> int | None:
        with self._session_factory.begin() as session:
            customer = customers.find_customer_by_mobile(session, mobile=mobile)
            customer_id = customer.id if customer is not None else None
            wechat_state.start_binding(
                session,
                openid=openid,
                customer_id=customer_id,
                code_hash=self._hash(openid, code),
                valid_for=CODE_VALID_FOR,
            )
            return customer_id

    def _pending(self, openid: str) -> bool:
        with self._session_factory.begin() as session:
            return wechat_state.has_binding_code(session, openid=openid)

    def _confirm(self, openid: str, code: str) -> str:
        with self._session_factory.begin() as session:
            result, attempts_left = wechat_state.confirm_binding(
                session, openid=openid, code_hash=self._hash(openid, code), max_attempts=MAX_CODE_ATTEMPTS
            )
            if result is BindingResult.BOUND:
                customer = customers.find_customer_by_channel_identity(
                    session, channel="wechat", channel_user_id=openid
                )
                return wechat_text("bind_bound", name=customer.name if customer else "")
        if result is BindingResult.WRONG:
            return wechat_text("bind_wrong_code", remaining=attempts_left)
        if result is BindingResult.TOO_MANY_ATTEMPTS:
            return wechat_text("bind_too_many_attempts")
        return wechat_text("bind_expired")
