"""WeChat channel state on SQLite and PostgreSQL: the decisions several API processes race on."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Conversation, Customer, TierServiceLevel, WeChatAccessToken, WeChatInbound
from crm.services import wechat_state
from crm.services.wechat_state import BindingResult
from crm.types import utcnow

STALE = timedelta(seconds=10)


def test_a_message_is_claimed_by_exactly_one_attempt_while_the_first_is_uncommitted(
    blank_sessionmaker: sessionmaker[Session],
) -> None:
    results: list[bool] = []
    errors: list[BaseException] = []

    def retry() -> None:
        try:
            with blank_sessionmaker.begin() as session:
                results.append(wechat_state.claim_inbound(session, msg_key="msg:1", openid="o-1", stale_after=STALE))
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    with blank_sessionmaker.begin() as session:
        assert wechat_state.claim_inbound(session, msg_key="msg:1", openid="o-1", stale_after=STALE) is True
        worker = threading.Thread(target=retry)
        worker.start()
        time.sleep(0.3)  # the retry waits on our uncommitted row (or the write lock)
    worker.join(timeout=30)
    assert not errors and results == [False]
    with blank_sessionmaker() as session:
        assert session.get(WeChatInbound, "msg:1").retries == 1


def test_passive_and_push_exclude_each_other(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        wechat_state.claim_inbound(session, msg_key="a", openid="o-1", stale_after=STALE)
        wechat_state.claim_inbound(session, msg_key="b", openid="o-1", stale_after=STALE)
    with blank_sessionmaker.begin() as session:
        assert wechat_state.switch_to_push(session, msg_key="a") is True
        assert wechat_state.settle_passive(session, msg_key="a") is False  # a retry moved it first
        assert wechat_state.settle_passive(session, msg_key="b") is True
        assert wechat_state.switch_to_push(session, msg_key="b") is False  # already answered
        assert wechat_state.reply_mode(session, msg_key="a") == "push"
        assert wechat_state.reply_mode(session, msg_key="b") == "passive"


def test_released_claim_lets_the_next_retry_start_again(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        wechat_state.claim_inbound(session, msg_key="c", openid="o-1", stale_after=STALE)
        wechat_state.release_inbound(session, msg_key="c")
        assert wechat_state.claim_inbound(session, msg_key="c", openid="o-1", stale_after=STALE) is True


def test_a_claim_left_pending_by_a_dead_attempt_is_taken_over_by_a_retry(
    blank_sessionmaker: sessionmaker[Session],
) -> None:
    with blank_sessionmaker.begin() as session:
        for key in ("dead", "answered"):
            wechat_state.claim_inbound(session, msg_key=key, openid="o-1", stale_after=STALE)
        wechat_state.settle_passive(session, msg_key="answered")
        session.execute(update(WeChatInbound).values(received_at=utcnow() - timedelta(seconds=11)))
    with blank_sessionmaker.begin() as session:
        assert wechat_state.claim_inbound(session, msg_key="dead", openid="o-1", stale_after=STALE) is True
        assert wechat_state.claim_inbound(session, msg_key="dead", openid="o-1", stale_after=STALE) is False
        assert wechat_state.claim_inbound(session, msg_key="answered", openid="o-1", stale_after=STALE) is False


def test_access_token_cache_honours_expiry_and_forgets_only_the_rejected_token(
    blank_sessionmaker: sessionmaker[Session],
) -> None:
    with blank_sessionmaker.begin() as session:
        wechat_state.store_access_token(session, appid="wx1", access_token="T1", expires_in_seconds=7200)
        assert wechat_state.cached_access_token(session, appid="wx1") == "T1"
        wechat_state.store_access_token(session, appid="wx1", access_token="T2", expires_in_seconds=7200)
        wechat_state.forget_access_token(session, appid="wx1", access_token="T1")  # stale: T2 stays
        assert wechat_state.cached_access_token(session, appid="wx1") == "T2"
        wechat_state.forget_access_token(session, appid="wx1", access_token="T2")
        assert wechat_state.cached_access_token(session, appid="wx1") is None
        wechat_state.store_access_token(session, appid="wx1", access_token="T3", expires_in_seconds=120)
        assert wechat_state.cached_access_token(session, appid="wx1") is None  # inside the safety margin
        session.execute(update(WeChatAccessToken).values(access_token="T4", expires_at=utcnow() + timedelta(hours=1)))
        assert wechat_state.cached_access_token(session, appid="wx1") == "T4"


def _open_conversation(session: Session, openid: str) -> int:
    conversation = Conversation(
        channel="wechat", channel_user_id=openid, owner="bot", status="open", rasa_sender_id=f"wechat:{openid}:x"
    )
    session.add(conversation)
    session.flush()
    return conversation.id


def test_offered_choices_map_numbers_back_and_are_forgotten(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        conversation_id = _open_conversation(session, "o-2")
        choices = [{"title": "是", "payload": "/affirm"}, {"title": "否", "payload": "/deny"}]
        wechat_state.remember_choices(session, conversation_id=conversation_id, choices=choices)
        assert wechat_state.offered_choice(session, channel_user_id="o-2", number=2) == choices[1]
        assert wechat_state.offered_choice(session, channel_user_id="o-2", number=3) is None
        assert wechat_state.offered_choice(session, channel_user_id="o-2", number=0) is None
        assert wechat_state.offered_choice(session, channel_user_id="o-other", number=1) is None
        wechat_state.remember_choices(session, conversation_id=conversation_id, choices=[])
        assert wechat_state.offered_choice(session, channel_user_id="o-2", number=1) is None


def test_binding_code_binds_once_and_limits_attempts(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        session.add(
            TierServiceLevel(
                tier="gold",
                label_zh="金卡",
                queue_priority=2,
                first_response_seconds=60,
                complaint_response_hours_normal=24,
                complaint_response_hours_high=4,
                min_lifetime_spend=Decimal("0"),
            )
        )
        session.flush()
        customer = Customer(name="王先生", gender="male", mobile="13900000001", tier="gold")
        session.add(customer)
        session.flush()
        conversation_id = _open_conversation(session, "o-3")
        wechat_state.start_binding(
            session, openid="o-3", customer_id=customer.id, code_hash="right", valid_for=timedelta(minutes=10)
        )
        assert wechat_state.confirm_binding(session, openid="o-3", code_hash="wrong", max_attempts=3) == (
            BindingResult.WRONG,
            2,
        )
        assert wechat_state.confirm_binding(session, openid="o-3", code_hash="right", max_attempts=3) == (
            BindingResult.BOUND,
            1,
        )
        assert session.get(Customer, customer.id).wechat_openid == "o-3"
        assert session.get(Conversation, conversation_id).customer_id == customer.id
        assert wechat_state.confirm_binding(session, openid="o-3", code_hash="right", max_attempts=3)[0] is (
            BindingResult.NO_CODE
        )
        wechat_state.start_binding(
            session, openid="o-4", customer_id=customer.id, code_hash="right", valid_for=timedelta(minutes=10)
        )
        results = [
            wechat_state.confirm_binding(session, openid="o-4", code_hash="wrong", max_attempts=2)[0] for _ in range(2)
        ]
        assert results == [BindingResult.WRONG, BindingResult.TOO_MANY_ATTEMPTS]
        assert wechat_state.confirm_binding(session, openid="o-4", code_hash="right", max_attempts=2)[0] is (
            BindingResult.TOO_MANY_ATTEMPTS
        )
        assert session.scalar(select(Customer.wechat_openid).where(Customer.id == customer.id)) == "o-3"
