"""WeChat channel state shared by every API process: reply claims, the access token, followers,
offered numbered choices, openid binding codes and refused deliveries.

Every decision that two processes could race on is one conditional statement in the database
(an INSERT on the primary key or an UPDATE ... WHERE reply_mode = 'pending'), never a read-then-write.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from enum import Enum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.models import (
    Conversation,
    Customer,
    WeChatAccessToken,
    WeChatBindingCode,
    WeChatDeliveryFailure,
    WeChatFollower,
    WeChatInbound,
    WeChatOfferedChoices,
)
from crm.types import utcnow

# A cached token is not handed out in its last minutes: a request must not start with a token about to expire.
TOKEN_SAFETY_MARGIN = timedelta(minutes=5)
CHANNEL = "wechat"


# --- retries: who answers a message, and how ---------------------------------------------------------


def prune_inbound(session: Session, *, older_than: timedelta) -> int:
    """Deletes the reply claims of messages received more than `older_than` ago; returns how many.

    WeChat retries a message for about 15 s, so an old claim de-duplicates nothing any more; the transcript
    keeps the messages themselves."""
    result = session.execute(delete(WeChatInbound).where(WeChatInbound.received_at < utcnow() - older_than))
    return int(getattr(result, "rowcount", 0) or 0)


def claim_inbound(session: Session, *, msg_key: str, openid: str, stale_after: timedelta) -> bool:
    """True for the attempt that answers a message; a retry (same key, any process) gets False and is counted.

    A claim still pending after `stale_after` belongs to an attempt that died (a live one settles passive or
    push within the passive-reply window): the retry takes it over.
    """
    try:
        with session.begin_nested():
            session.add(
                WeChatInbound(msg_key=msg_key, openid=openid, reply_mode="pending", retries=0, received_at=utcnow())
            )
    except IntegrityError:
        now = utcnow()
        taken_over = session.execute(
            update(WeChatInbound)
            .where(
                WeChatInbound.msg_key == msg_key,
                WeChatInbound.reply_mode == "pending",
                WeChatInbound.received_at < now - stale_after,
            )
            .values(retries=WeChatInbound.retries + 1, received_at=now)
        )
        if taken_over.rowcount == 1:  # type: ignore[attr-defined]
            return True
        session.execute(
            update(WeChatInbound).where(WeChatInbound.msg_key == msg_key).values(retries=WeChatInbound.retries + 1)
        )
        return False
    return True


def release_inbound(session: Session, *, msg_key: str) -> None:
    """The first attempt failed before answering: let WeChat's next retry try again."""
    session.execute(delete(WeChatInbound).where(WeChatInbound.msg_key == msg_key))


def settle_passive(session: Session, *, msg_key: str) -> bool:
    """The first attempt answers in its HTTP response, unless a retry already moved the message to push."""
    result = session.execute(
        update(WeChatInbound)
        .where(WeChatInbound.msg_key == msg_key, WeChatInbound.reply_mode == "pending")
        .values(reply_mode="passive")
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def switch_to_push(session: Session, *, msg_key: str) -> bool:
    """Moves a pending message to the customer-service API; False when it was already settled."""
    result = session.execute(
        update(WeChatInbound)
        .where(WeChatInbound.msg_key == msg_key, WeChatInbound.reply_mode == "pending")
        .values(reply_mode="push")
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def reply_mode(session: Session, *, msg_key: str) -> str | None:
    return session.scalar(select(WeChatInbound.reply_mode).where(WeChatInbound.msg_key == msg_key))


# --- the access token ----------------------------------------------------------------------------------


def cached_access_token(session: Session, *, appid: str) -> str | None:
    row = session.get(WeChatAccessToken, appid)
    if row is None or row.expires_at - TOKEN_SAFETY_MARGIN <= utcnow():
        return None
    return row.access_token


def store_access_token(session: Session, *, appid: str, access_token: str, expires_in_seconds: int) -> None:
    expires_at = utcnow() + timedelta(seconds=expires_in_seconds)
    row = session.get(WeChatAccessToken, appid)
    if row is None:
        try:
            with session.begin_nested():
                session.add(WeChatAccessToken(appid=appid, access_token=access_token, expires_at=expires_at))
            return
        except IntegrityError:
            row = session.get(WeChatAccessToken, appid)
            if row is None:
                raise
    row.access_token = access_token
    row.expires_at = expires_at
    session.flush()


def forget_access_token(session: Session, *, appid: str, access_token: str) -> None:
    """WeChat rejected this token (40001/42001); another process may already have stored a newer one."""
    session.execute(
        delete(WeChatAccessToken).where(
            WeChatAccessToken.appid == appid, WeChatAccessToken.access_token == access_token
        )
    )


# --- followers -----------------------------------------------------------------------------------------


def record_subscription(session: Session, *, openid: str, subscribed: bool) -> None:
    now = utcnow()
    follower = session.get(WeChatFollower, openid)
    if follower is None:
        follower = WeChatFollower(openid=openid, subscribed=subscribed, subscribed_at=None, unsubscribed_at=None)
        session.add(follower)
    follower.subscribed = subscribed
    if subscribed:
        follower.subscribed_at = now
    else:
        follower.unsubscribed_at = now
    session.flush()


def is_subscribed(session: Session, *, openid: str) -> bool | None:
    follower = session.get(WeChatFollower, openid)
    return follower.subscribed if follower is not None else None


# --- numbered choices ----------------------------------------------------------------------------------


def remember_choices(session: Session, *, conversation_id: int, choices: list[dict[str, str]]) -> None:
    """The choices now on the customer's screen, numbered from 1; an empty list forgets the old ones."""
    row = session.get(WeChatOfferedChoices, conversation_id)
    if not choices:
        if row is not None:
            session.delete(row)
            session.flush()
        return
    if row is None:
        session.add(WeChatOfferedChoices(conversation_id=conversation_id, choices=choices, offered_at=utcnow()))
    else:
        row.choices = choices
        row.offered_at = utcnow()
    session.flush()


def offered_choice(session: Session, *, channel_user_id: str, number: int) -> dict[str, Any] | None:
    """The choice numbered `number` (from 1) last offered in this WeChat user's open conversation."""
    row = session.scalar(
        select(WeChatOfferedChoices)
        .join(Conversation, Conversation.id == WeChatOfferedChoices.conversation_id)
        .where(
            Conversation.channel == CHANNEL,
            Conversation.channel_user_id == channel_user_id,
            Conversation.status == "open",
        )
    )
    if row is None or not 1 <= number <= len(row.choices):
        return None
    return row.choices[number - 1]


# --- binding an openid to a customer -------------------------------------------------------------------


class BindingResult(Enum):
    NO_CODE = "no_code"
    EXPIRED = "expired"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    WRONG = "wrong"
    BOUND = "bound"


def start_binding(
    session: Session, *, openid: str, customer_id: int | None, code_hash: str, valid_for: timedelta
) -> None:
    """A new code replaces any earlier one (and its attempt count). `customer_id` None: the mobile is unknown,
    the customer is told the same as for a known one and no code ever matches."""
    session.execute(delete(WeChatBindingCode).where(WeChatBindingCode.openid == openid))
    session.add(
        WeChatBindingCode(
            openid=openid, customer_id=customer_id, code_hash=code_hash, attempts=0, expires_at=utcnow() + valid_for
        )
    )
    session.flush()


def has_binding_code(session: Session, *, openid: str) -> bool:
    """A code was sent to this openid and not used up (it may have expired: the customer is told so)."""
    return session.get(WeChatBindingCode, openid) is not None


def confirm_binding(session: Session, *, openid: str, code_hash: str, max_attempts: int) -> tuple[BindingResult, int]:
    """Checks a code and returns (result, attempts left); on success the openid is bound to the customer
    and to their open WeChat conversation."""
    row = session.get(WeChatBindingCode, openid, with_for_update=True)
    if row is None:
        return BindingResult.NO_CODE, 0
    if row.expires_at <= utcnow():
        session.delete(row)
        return BindingResult.EXPIRED, 0
    if row.attempts >= max_attempts:
        return BindingResult.TOO_MANY_ATTEMPTS, 0
    row.attempts += 1
    left = max_attempts - row.attempts
    if row.customer_id is None or not hmac.compare_digest(row.code_hash, code_hash):
        session.flush()
        return (BindingResult.TOO_MANY_ATTEMPTS if left == 0 else BindingResult.WRONG), left
    customer_id = row.customer_id
    session.delete(row)
    # An openid belongs to one customer: a previous binding (e.g. a family member's phone) is moved.
    for previous in session.scalars(select(Customer).where(Customer.wechat_openid == openid)):
        previous.wechat_openid = None
    session.flush()
    customer = session.get(Customer, customer_id)
    if customer is None:
        return BindingResult.NO_CODE, 0
    customer.wechat_openid = openid
    for conversation in session.scalars(
        select(Conversation).where(
            Conversation.channel == CHANNEL, Conversation.channel_user_id == openid, Conversation.status == "open"
        )
    ):
        conversation.customer_id = customer_id
    session.flush()
    return BindingResult.BOUND, left


# --- refused deliveries --------------------------------------------------------------------------------


def record_delivery_failure(
    session: Session, *, openid: str, message_id: int | None, errcode: int, errmsg: str
) -> None:
    session.add(
        WeChatDeliveryFailure(
            openid=openid, message_id=message_id, errcode=errcode, errmsg=errmsg[:1000], created_at=utcnow()
        )
    )
    session.flush()


def delivery_failures(session: Session, *, openid: str) -> list[tuple[int | None, int]]:
    """(message_id, errcode) of the refused deliveries to an openid, oldest first."""
    rows = session.execute(
        select(WeChatDeliveryFailure.message_id, WeChatDeliveryFailure.errcode)
        .where(WeChatDeliveryFailure.openid == openid)
        .order_by(WeChatDeliveryFailure.id)
    )
    return [(message_id, errcode) for message_id, errcode in rows]
