import functools
import itertools
import threading
import time
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm.errors import NotFoundError, OwnershipConflictError
from crm.models import Agent, Conversation, Customer, Message, TierServiceLevel
from crm.repositories import ConversationRepository, MessageRepository
from crm.schemas import OutgoingMessage
from crm.services import conversation_ownership, conversations, message_delivery
from crm.types import utcnow


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
        closed = conversation_ownership.close_conversation(
            session, conversation_id=first.id, reason="agent", actor="agent:1"
        )
    assert (closed.status, closed.close_reason) == ("closed", "agent") and closed.closed_at is not None
    with blank_sessionmaker.begin() as session:
        second = _open(session)
        again = conversation_ownership.close_conversation(
            session, conversation_id=first.id, reason="idle", actor="system"
        )
    assert second.id != first.id
    assert second.rasa_sender_id != first.rasa_sender_id
    assert again.close_reason == "agent"  # closing twice changes nothing


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


# --- ownership and lifecycle -----------------------------------------------------------------------------------


def _agents(session: Session, *names: str) -> list[int]:
    agents = [Agent(name=name, username=f"agent.{n}", skills=["hotel"]) for n, name in enumerate(names)]
    session.add_all(agents)
    session.flush()
    return [agent.id for agent in agents]


def test_every_owner_change_is_recorded_in_order(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        lina, wang = _agents(session, "李娜", "王强")
        conversation = _open(session)
        move = functools.partial(conversation_ownership.change_owner, session, conversation_id=conversation.id)
        move(to_owner="queue", reason="complaint", actor="bot")
        claimed = move(to_owner="agent", agent_id=lina, reason="claim", actor=f"agent:{lina}")
        move(to_owner="agent", agent_id=wang, reason="transfer", actor=f"agent:{lina}")
        back = move(to_owner="bot", reason="resolved", actor=f"agent:{wang}")
        history = conversation_ownership.owner_history(session, conversation_id=conversation.id)
    assert (claimed.owner, claimed.assigned_agent_id) == ("agent", lina)
    assert (back.owner, back.assigned_agent_id) == ("bot", None)
    assert [(h.from_owner, h.to_owner, h.agent_id, h.reason, h.actor) for h in history] == [
        ("bot", "queue", None, "complaint", "bot"),
        ("queue", "agent", lina, "claim", f"agent:{lina}"),
        ("agent", "agent", wang, "transfer", f"agent:{lina}"),
        ("agent", "bot", None, "resolved", f"agent:{wang}"),
    ]
    assert all(a.created_at <= b.created_at for a, b in itertools.pairwise(history))


@pytest.mark.parametrize(
    ("moves", "error"),
    [
        ([("queue", None), ("queue", None)], OwnershipConflictError),  # queue → queue
        ([("bot", None)], OwnershipConflictError),  # bot → bot
        ([("agent", None)], ValueError),  # an agent owner needs an agent
        ([("queue", "first-agent")], ValueError),  # only an agent owner has one
        ([("agent", "first-agent"), ("agent", "first-agent")], OwnershipConflictError),  # already theirs
    ],
)
def test_impossible_owner_changes_are_refused_and_not_recorded(
    blank_sessionmaker: sessionmaker[Session], moves: list[tuple[str, str | None]], error: type[Exception]
) -> None:
    with blank_sessionmaker.begin() as session:
        (agent,) = _agents(session, "李娜")
        conversation = _open(session)
    with pytest.raises(error), blank_sessionmaker.begin() as session:
        for to_owner, who in moves:
            conversation_ownership.change_owner(
                session,
                conversation_id=conversation.id,
                to_owner=to_owner,
                agent_id=agent if who else None,
                reason="test",
                actor="test",
            )
    with blank_sessionmaker() as session:
        assert conversation_ownership.owner_history(session, conversation_id=conversation.id) == []
        assert session.get_one(Conversation, conversation.id).owner == "bot"


def test_a_closed_conversation_changes_owner_no_more(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        conversation = _open(session)
        conversation_ownership.close_conversation(session, conversation_id=conversation.id, reason="idle", actor="s")
    with pytest.raises(OwnershipConflictError, match="closed"), blank_sessionmaker.begin() as session:
        conversation_ownership.change_owner(
            session, conversation_id=conversation.id, to_owner="queue", reason="request", actor="bot"
        )


def test_two_agents_claiming_at_once_one_wins(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        agents = _agents(session, "李娜", "王强")
        conversation = _open(session)
        conversation_ownership.change_owner(
            session, conversation_id=conversation.id, to_owner="queue", reason="request", actor="bot"
        )
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def claim(agent_id: int) -> None:
        barrier.wait()
        try:
            with blank_sessionmaker.begin() as session:
                conversation_ownership.change_owner(
                    session,
                    conversation_id=conversation.id,
                    to_owner="agent",
                    agent_id=agent_id,
                    reason="claim",
                    actor=f"agent:{agent_id}",
                    expected_owner="queue",
                )
            outcomes.append("won")
        except OwnershipConflictError:
            outcomes.append("lost")

    threads = [threading.Thread(target=claim, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost", "won"]
    with blank_sessionmaker() as session:
        history = conversation_ownership.owner_history(session, conversation_id=conversation.id)
        owner = session.get_one(Conversation, conversation.id)
    assert [(h.from_owner, h.to_owner) for h in history] == [("bot", "queue"), ("queue", "agent")]
    assert owner.assigned_agent_id == history[-1].agent_id


def test_idle_closing_spares_a_conversation_that_just_got_a_message(blank_sessionmaker: sessionmaker[Session]) -> None:
    now = utcnow()
    with blank_sessionmaker.begin() as session:
        idle = _open(session, "idle")
        busy = _open(session, "busy")
        for conversation_id in (idle.id, busy.id):
            session.get_one(Conversation, conversation_id).last_message_at = now - timedelta(minutes=40)
    with blank_sessionmaker.begin() as session:
        # A message lands between the sweeper's look-up and its UPDATE: the UPDATE re-checks.
        real_list = conversation_ownership.ConversationRepository.list_idle_open

        def list_then_message(self: object, *args: object) -> list[Conversation]:
            found = real_list(self, *args)  # type: ignore[arg-type]
            conversations.record_inbound_message(session, conversation_id=busy.id, text="在吗", client_message_id=None)
            return found

        with mock.patch.object(conversation_ownership.ConversationRepository, "list_idle_open", list_then_message):
            closed = conversation_ownership.close_idle_conversations(session, idle_for=timedelta(minutes=30))
    assert closed == [idle.id]
    with blank_sessionmaker() as session:
        assert session.get_one(Conversation, busy.id).status == "open"


def test_catch_up_returns_what_came_after_the_last_seen_message(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        first = _open(session)
        seen, _ = conversations.record_inbound_message(
            session, conversation_id=first.id, text="a", client_message_id=None
        )
        conversations.record_outbound_messages(
            session, conversation_id=first.id, reply_to_id=seen.id, sender="bot", messages=[OutgoingMessage(text="b")]
        )
        conversation_ownership.close_conversation(session, conversation_id=first.id, reason="idle", actor="system")
        second = _open(session)
        conversations.record_inbound_message(session, conversation_id=second.id, text="c", client_message_id=None)
        other = _open(session, "someone-else")
        conversations.record_inbound_message(session, conversation_id=other.id, text="x", client_message_id=None)
    with blank_sessionmaker() as session:
        current, missed = conversations.catch_up(session, channel="web", channel_user_id="u1", after_id=seen.id)
        fresh, transcript = conversations.catch_up(session, channel="web", channel_user_id="u1", after_id=0)
    assert current is not None and current.id == second.id
    assert [m.text for m in missed] == ["b", "c"]  # the closed conversation's last reply is not lost
    assert fresh == current and [m.text for m in transcript] == ["c"]


def test_a_push_message_is_claimed_by_one_caller_at_a_time(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        conversation = conversations.get_or_open_conversation(
            session, channel="wechat", channel_user_id="openid", customer_id=None
        )
        (message,) = conversations.record_outbound_messages(
            session,
            conversation_id=conversation.id,
            reply_to_id=None,
            sender="system",
            messages=[OutgoingMessage(text="您前面还有2位")],
            push_delivery=True,
        )
    assert message.delivery_state == "pending"
    barrier = threading.Barrier(4)
    wins: list[bool] = []

    def claim() -> None:
        barrier.wait()
        with blank_sessionmaker.begin() as session:
            wins.append(message_delivery.claim(session, message_id=message.id, lease=timedelta(seconds=60)))

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False, False, False, True]
    with blank_sessionmaker.begin() as session:
        message_delivery.mark_delivered(session, message_id=message.id)
        assert not message_delivery.claim(session, message_id=message.id, lease=timedelta(0))
        row = session.get_one(Message, message.id)
        assert (row.delivery_state, row.delivery_attempts) == ("delivered", 1)
