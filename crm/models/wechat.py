"""State of the WeChat official-account channel that must be shared by every API process."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base, enum_check
from crm.types import utcnow

# pending: the first attempt is working on it; passive: answered in the HTTP response;
# push: answered `success`, the replies go out through the customer-service message API.
WECHAT_REPLY_MODES = ("pending", "passive", "push")


class WeChatInbound(Base):
    """One row per WeChat message (MsgId, or FromUserName + CreateTime for events): who answers it, and how."""

    __tablename__ = "wechat_inbound"
    __table_args__ = (enum_check("reply_mode", WECHAT_REPLY_MODES),)

    msg_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    reply_mode: Mapped[str] = mapped_column(String(8), default="pending")
    retries: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class WeChatAccessToken(Base):
    """The cached access_token of an official account (WeChat allows a limited number of fetches per day)."""

    __tablename__ = "wechat_access_token"

    appid: Mapped[str] = mapped_column(String(32), primary_key=True)
    access_token: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[datetime]


class WeChatFollower(Base):
    """Subscribe / unsubscribe events of an openid."""

    __tablename__ = "wechat_follower"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscribed: Mapped[bool]
    subscribed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]


class WeChatOfferedChoices(Base):
    """The numbered choices last shown in a conversation, so "2" maps back to the second button's payload."""

    __tablename__ = "wechat_offered_choices"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id"), primary_key=True)
    choices: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)


class WeChatBindingCode(Base):
    """A one-time code sent to a customer's mobile to bind an openid to that customer."""

    __tablename__ = "wechat_binding_code"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customer.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime]


class WeChatDeliveryFailure(Base):
    """A message the customer-service API refused for good (e.g. 45015: outside the 48-hour window)."""

    __tablename__ = "wechat_delivery_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"), index=True)
    errcode: Mapped[int]
    errmsg: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
