import threading
import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm.errors import NotFoundError
from crm.models import Conversation, Customer, Message, TierServiceLevel
from crm.repositories import ConversationRepository, MessageRepository
from crm.schemas import OutgoingMessage
from crm.services import conversations


def _make_customer(session: Session, *, web_user_id: str = "web-user-1") -> int:
    session.add(
        TierServiceLevel(
            tier="gold",
            label_zh="黄金",
            queue_priority=30,
            first_response_seconds=30,
            complaint_response_hours_normal=12,
            complaint_response_hours_high=4,
            min_lifetime_spend=Decimal("8000"),
        )
    )
    session.flush()  # the tier row must exist before the customer that references it
    customer = Customer(name="陈思雨", gender="female", mobile="13985120002", tier="gold", web_user_id=web_user_id)
    session.add(customer)
    session.flush()
    return customer.id


def _open(session: Session, user: str = "u1", customer_id: int | None = None) -> conversations.ConversationOut:
    return conversations.get_or_open_conversation(session, channel="web", channel_user_id=user, customer_id=customer_id)


def test_open_conversation_then_reuse_it(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        first = _open(session)
    with blank_sessionmaker.begin() as session:
        again = _open(session)
        found = conversations.find_open_conversation(session, channel="web", channel_user_id="u1")
        other_channel = conversations.find_open_conversation(session, channel="wechat", channel_user_id="u1")
    assert again == first == found
    assert other_channel is None
    assert first.owner == "bot" and first.status == "open"
    assert first.rasa_sender_id.startswith("web:u1:")


def test_a_closed_conversation_is_followed_by_a_new_one(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        first = _open(session)
        session.get_one(Conversation, first.id).status = "closed"
    with blank_sessionmaker.begin() as session:
        second = _open(session)
    assert second.id != first.id
    assert second.rasa_sender_id != first.rasa_sender_id


def test_open_conversation_links_a_customer_identified_later(
    blank_sessionmaker: sessionmaker[Session],
) -> None:
    with blank_sessionmaker.begin() as session:
        customer_id = _make_customer(session)
        anonymous = _open(session)
        identified = _open(session, customer_id=customer_id)
    assert anonymous.customer_id is None
    assert identified.id == anonymous.id and identified.customer_id == customer_id


def test_unknown_channel_is_rejected(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker() as session, pytest.raises(ValueError, match="channel"):
        conversations.get_or_open_conversation(session, channel="fax", channel_user_id="u1", customer_id=None)


def test_concurrent_open_yields_one_conversation(blank_sessionmaker: sessionmaker[Session]) -> None:
    """A second worker racing the first waits on its uncommitted insert and then reuses its row."""
    results: list[int] = []
    errors: list[BaseException] = []

    def second_worker() -> None:
        try:
            with blank_sessionmaker.begin() as session:
                results.append(_open(session, "racer").id)
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    with blank_sessionmaker.begin() as session:
        first = _open(session, "racer")
        worker = threading.Thread(target=second_worker)
        worker.start()
        time.sleep(0.3)  # let the worker block on our uncommitted row (or write lock)
    worker.join(timeout=30)
    assert not errors
    assert results == [first.id]
    with blank_sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 1


def test_open_recovers_when_it_loses_the_race(
    blank_sessionmaker: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The insert hits the partial unique index; only the savepoint rolls back and the winner is returned."""
    with blank_sessionmaker.begin() as session:
        winner = _open(session, "late")
    original = ConversationRepository.find_open
    calls: list[str] = []

    def stale_first_read(self: ConversationRepository, channel: str, channel_user_id: str) -> Conversation | None:
        calls.append(channel_user_id)
        return None if len(calls) == 1 else original(self, channel, channel_user_id)

    monkeypatch.setattr(ConversationRepository, "find_open", stale_first_read)
    with blank_sessionmaker.begin() as session:
        loser = _open(session, "late")
        message, _ = conversations.record_inbound_message(
            session, conversation_id=loser.id, text="还在吗", client_message_id=None
        )  # the outer transaction is still usable
    assert loser.id == winner.id
    assert message.conversation_id == winner.id
    assert len(calls) == 2


def test_inbound_message_is_stored_once_per_client_message_id(
    blank_sessionmaker: sessionmaker[Session],
) -> None:
    with blank_sessionmaker.begin() as session:
        conversation = _open(session)
        first, created = conversations.record_inbound_message(
            session, conversation_id=conversation.id, text="我的订单到哪了", client_message_id="c-1"
        )
    with blank_sessionmaker.begin() as session:
        again, created_again = conversations.record_inbound_message(
            session, conversation_id=conversation.id, text="我的订单到哪了", client_message_id="c-1"
        )
        no_id_1, _ = conversations.record_inbound_message(
            session, conversation_id=conversation.id, text="你好", client_message_id=None
        )
        no_id_2, _ = conversations.record_inbound_message(
            session, conversation_id=conversation.id, text="你好", client_message_id=None
        )
        last_message_at = session.get_one(Conversation, conversation.id).last_message_at
    assert created and not created_again
    assert again == first
    assert first.direction == "in" and first.sender == "customer"
    assert no_id_1.id != no_id_2.id
    assert last_message_at == no_id_2.created_at


def test_inbound_duplicate_race_returns_the_stored_message(
    blank_sessionmaker: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with blank_sessionmaker.begin() as session:
        conversation = _open(session)
        stored, _ = conversations.record_inbound_message(
            session, conversation_id=conversation.id, text="在吗", client_message_id="dup"
        )
    original = MessageRepository.get_by_client_message_id
    calls: list[str] = []

    def stale_first_read(self: MessageRepository, conversation_id: int, client_message_id: str) -> Message | None:
        calls.append(client_message_id)
        return None if len(calls) == 1 else original(self, conversation_id, client_message_id)

    monkeypatch.setattr(MessageRepository, "get_by_client_message_id", stale_first_read)
    with blank_sessionmaker.begin() as session:
        again, created = conversations.record_inbound_message(
            session, conversation_id=conversation.id, text="在吗", client_message_id="dup"
        )
    assert (again, created) == (stored, False)


def test_replies_point_at_the_inbound_message_in_order(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        conversation = _open(session)
        inbound, _ = conversations.record_inbound_message(
            session, conversation_id=conversation.id, text="营业时间", client_message_id="m1"
        )
        replies = conversations.record_outbound_messages(
            session,
            conversation_id=conversation.id,
            reply_to_id=inbound.id,
            sender="bot",
            messages=[
                OutgoingMessage(text="我们每天 08:30-19:00 营业。"),
                OutgoingMessage(text="需要帮您预约吗？", payload={"buttons": [{"title": "预约", "payload": "/book"}]}),
            ],
        )
        listed = conversations.list_replies(session, message_id=inbound.id)
    assert listed == replies
    assert [reply.reply_to_id for reply in replies] == [inbound.id, inbound.id]
    assert [reply.direction for reply in replies] == ["out", "out"]
    assert replies[1].payload == {"buttons": [{"title": "预约", "payload": "/book"}]}


def test_outbound_messages_validate_sender_and_reply_target(
    blank_sessionmaker: sessionmaker[Session],
) -> None:
    with blank_sessionmaker.begin() as session:
        conversation = _open(session)
        other = _open(session, "u2")
        inbound, _ = conversations.record_inbound_message(
            session, conversation_id=other.id, text="你好", client_message_id=None
        )
        with pytest.raises(ValueError, match="sender"):
            conversations.record_outbound_messages(
                session, conversation_id=conversation.id, reply_to_id=None, sender="customer", messages=[]
            )
        with pytest.raises(NotFoundError):
            conversations.record_outbound_messages(
                session, conversation_id=conversation.id, reply_to_id=inbound.id, sender="bot", messages=[]
            )
        with pytest.raises(NotFoundError):
            conversations.record_inbound_message(session, conversation_id=999_999, text="?", client_message_id=None)


def test_transcript_is_chronological_and_keeps_the_latest(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        conversation = _open(session)
        for index in range(5):
            inbound, _ = conversations.record_inbound_message(
                session, conversation_id=conversation.id, text=f"问题{index}", client_message_id=f"q{index}"
            )
            conversations.record_outbound_messages(
                session,
                conversation_id=conversation.id,
                reply_to_id=inbound.id,
                sender="bot",
                messages=[OutgoingMessage(text=f"回答{index}")],
            )
        full = conversations.list_transcript(session, conversation_id=conversation.id)
        latest = conversations.list_transcript(session, conversation_id=conversation.id, limit=3)
    assert [message.text for message in full] == [
        text for index in range(5) for text in (f"问题{index}", f"回答{index}")
    ]
    assert [message.text for message in latest] == ["回答3", "问题4", "回答4"]
    assert [message.id for message in full] == sorted(message.id for message in full)


def test_customer_lookup_by_channel_identity(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        customer_id = _make_customer(session, web_user_id="w-42")
        found = conversations.find_customer_by_channel_identity(session, channel="web", channel_user_id="w-42")
        missing = conversations.find_customer_by_channel_identity(session, channel="wechat", channel_user_id="w-42")
        by_id = conversations.get_customer(session, customer_id=customer_id)
    assert found == by_id
    assert found is not None and found.masked_mobile == "139****0002"
    assert (found.tier, found.tier_label_zh) == ("gold", "黄金")
    assert missing is None
