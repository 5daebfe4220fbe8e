"""Queue and assignment on the escalation table: order, position, claim (skills, groups, capacity), SLA,
transfer, notes, compensation, close, CSAT follow-ups and abuse flags."""

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm.errors import NotFoundError
from crm.models import Agent, Conversation, Customer, Escalation, SupervisorTask
from crm.services import queue
from crm.services.csat import record_csat
from crm.services.customer_card import flag_abuse
from crm.services.escalation_rules import Counters, Decision, Signal
from tests.crm.test_tiers import _tenant

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)


def decision(tier: str = "iron", priority: int = 40, sla: int = 180, group: str | None = None) -> Decision:
    return Decision("escalate", tier, priority, sla, group, f"{tier}: explicit request #1")  # type: ignore[arg-type]


@dataclass
class World:
    session: Session
    agents: dict[str, Agent]
    customer: Customer

    def conversation(self, user: str) -> int:
        conversation = Conversation(
            channel="web",
            channel_user_id=user,
            customer_id=self.customer.id,
            rasa_sender_id=f"web:{user}",
            started_at=NOW,
        )
        self.session.add(conversation)
        self.session.flush()
        return conversation.id


@pytest.fixture
def world(blank_sessionmaker: sessionmaker[Session]) -> World:
    session = blank_sessionmaker()
    _tenant(session)
    agents = {
        "cars": Agent(name="王强", username="agent.cars", skills=["car_care"], max_concurrent=1, groups=[]),
        "vip": Agent(name="李娜", username="agent.vip", skills=["car_care", "hotel"], max_concurrent=2, groups=["vip"]),
        "hotel": Agent(name="周敏", username="agent.hotel", skills=["hotel"], max_concurrent=2, groups=[]),
    }
    session.add_all(agents.values())
    customer = Customer(name="客户", mobile="13800000001", tier="gold")
    session.add(customer)
    session.flush()
    yield World(session, agents, customer)
    session.rollback()
    session.close()


def test_enqueue_is_idempotent_per_conversation(world: World) -> None:
    conversation_id = world.conversation("u1")
    first, created = queue.enqueue(world.session, conversation_id=conversation_id, decision=decision(), now=NOW)
    again, created_again = queue.enqueue(world.session, conversation_id=conversation_id, decision=decision(), now=NOW)
    assert (created, created_again) == (True, False)
    assert first.id == again.id
    assert first.tier == "gold"  # the customer's effective tier is stored
    assert first.sla_due_at == NOW + timedelta(seconds=180)
    assert world.session.scalar(select(func.count()).select_from(Escalation)) == 1
    with pytest.raises(ValueError, match="escalate"):
        queue.enqueue(
            world.session,
            conversation_id=conversation_id,
            decision=Decision("ticket", "iron", 0, None, None, "x"),
        )


# (label, priority, minutes waiting) in enqueue order -> expected serving order
ORDER_CASES = [
    ([("a", 40, 10), ("b", 100, 1), ("c", 40, 20)], ["b", "c", "a"]),
    ([("a", 10, 60), ("b", 10, 5), ("c", 70, 0)], ["c", "a", "b"]),
    ([("a", 40, 5), ("b", 40, 5)], ["a", "b"]),  # same priority and time: first queued first
]


@pytest.mark.parametrize(("entries", "expected"), ORDER_CASES)
def test_queue_is_served_by_priority_then_waiting_time(
    world: World, entries: list[tuple[str, int, int]], expected: list[str]
) -> None:
    ids = {}
    for label, priority, minutes in entries:
        ids[world.conversation(label)] = label
        queue.enqueue(
            world.session,
            conversation_id=list(ids)[-1],
            decision=decision(priority=priority),
            now=NOW - timedelta(minutes=minutes),
        )
    items = queue.list_queue(world.session, now=NOW)
    assert [ids[item.conversation_id] for item in items] == expected
    assert [item.waiting_seconds for item in items] == [
        next(m for label, _, m in entries if label == name) * 60 for name in expected
    ]
    positions = [queue.queue_position(world.session, conversation_id=item.conversation_id, now=NOW) for item in items]
    assert [position.position for position in positions if position] == list(range(1, len(items) + 1))


def test_estimated_wait_grows_with_the_queue_once_agents_are_busy(world: World) -> None:
    ids = [world.conversation(f"u{index}") for index in range(4)]
    for conversation_id in ids:
        queue.enqueue(
            world.session, conversation_id=conversation_id, decision=decision(), business_code="car_care", now=NOW
        )
    # Agents who can take car_care without a group: only agent.cars, 1 slot, free: the first waits 0.
    waits = [queue.queue_position(world.session, conversation_id=i, now=NOW).estimated_wait_seconds for i in ids]  # type: ignore[union-attr]
    assert waits[0] == 0
    assert waits == sorted(waits) and waits[-1] > 0
    assert queue.queue_position(world.session, conversation_id=world.conversation("idle"), now=NOW) is None


def test_claim_respects_skills_groups_capacity_and_someone_else(world: World) -> None:
    cars, vip, hotel = (world.agents[name].id for name in ("cars", "vip", "hotel"))
    car = world.conversation("car")
    queue.enqueue(world.session, conversation_id=car, decision=decision(), business_code="car_care", now=NOW)
    with pytest.raises(queue.SkillMismatchError, match="skill car_care"):
        queue.claim(world.session, conversation_id=car, agent_id=hotel, now=NOW)
    claimed = queue.claim(world.session, conversation_id=car, agent_id=cars, now=NOW)
    assert (claimed.status, claimed.agent_id, claimed.assigned_at) == ("assigned", cars, NOW)
    assert queue.claim(world.session, conversation_id=car, agent_id=cars, now=NOW).id == claimed.id  # retry
    with pytest.raises(queue.AlreadyClaimedError):
        queue.claim(world.session, conversation_id=car, agent_id=vip, now=NOW)

    second = world.conversation("car2")
    queue.enqueue(world.session, conversation_id=second, decision=decision(), business_code="car_care", now=NOW)
    with pytest.raises(queue.AgentAtCapacityError, match="1 of 1"):
        queue.claim(world.session, conversation_id=second, agent_id=cars, now=NOW)

    platinum = world.conversation("vip")
    queue.enqueue(
        world.session, conversation_id=platinum, decision=decision("platinum", 100, 30, "vip"), business_code="hotel"
    )
    with pytest.raises(queue.SkillMismatchError, match="group vip"):
        queue.claim(world.session, conversation_id=platinum, agent_id=hotel, now=NOW)
    assert queue.claim(world.session, conversation_id=platinum, agent_id=vip, now=NOW).agent_id == vip
    with pytest.raises(NotFoundError):
        queue.claim(world.session, conversation_id=world.conversation("nobody"), agent_id=vip, now=NOW)
    assert queue.agent_load(world.session, agent_id=vip) == 1


def test_sla_breach_is_detected_once_and_counted(world: World) -> None:
    late, on_time = world.conversation("late"), world.conversation("fast")
    slow, _ = queue.enqueue(world.session, conversation_id=late, decision=decision(sla=30), now=NOW)
    fast, _ = queue.enqueue(world.session, conversation_id=on_time, decision=decision(sla=30), now=NOW)
    queue.claim(world.session, conversation_id=on_time, agent_id=world.agents["vip"].id, now=NOW)
    queue.record_first_response(world.session, escalation_id=fast.id, now=NOW + timedelta(seconds=20))
    assert [item.sla_breached for item in queue.list_queue(world.session, now=NOW + timedelta(seconds=31))] == [True]
    assert queue.detect_breaches(world.session, now=NOW + timedelta(seconds=31)) == [slow.id]
    assert queue.detect_breaches(world.session, now=NOW + timedelta(seconds=90)) == []
    assert queue.count_breaches(world.session, since=NOW - timedelta(hours=1)) == 1

    # A first reply after the due time is a breach too.
    third = world.conversation("third")
    late_reply, _ = queue.enqueue(world.session, conversation_id=third, decision=decision(sla=60), now=NOW)
    queue.claim(world.session, conversation_id=third, agent_id=world.agents["vip"].id, now=NOW)
    answered = queue.record_first_response(world.session, escalation_id=late_reply.id, now=NOW + timedelta(seconds=61))
    assert answered.sla_breached_at == NOW + timedelta(seconds=60)
    assert queue.count_breaches(world.session, since=NOW - timedelta(hours=1)) == 2


def test_transfer_to_an_agent_or_back_to_a_group(world: World) -> None:
    conversation_id = world.conversation("t")
    escalation, _ = queue.enqueue(
        world.session, conversation_id=conversation_id, decision=decision(), business_code="hotel", now=NOW
    )
    queue.claim(world.session, conversation_id=conversation_id, agent_id=world.agents["hotel"].id, now=NOW)
    moved = queue.transfer(
        world.session, escalation_id=escalation.id, author="agent.hotel", to_agent_id=world.agents["vip"].id
    )
    assert (moved.status, moved.agent_id) == ("assigned", world.agents["vip"].id)
    with pytest.raises(queue.SkillMismatchError):
        queue.transfer(world.session, escalation_id=escalation.id, author="x", to_agent_id=world.agents["cars"].id)
    requeued = queue.transfer(world.session, escalation_id=escalation.id, author="agent.vip", to_group="vip", now=NOW)
    assert (requeued.status, requeued.agent_id, requeued.agent_group, requeued.queued_at) == (
        "queued",
        None,
        "vip",
        NOW,
    )
    notes = [note.text for note in queue.list_notes(world.session, escalation_id=escalation.id)]
    assert notes == ["transferred to agent agent.vip", "transferred to group vip"]


def test_notes_compensation_close_and_csat(world: World) -> None:
    conversation_id = world.conversation("c")
    escalation, _ = queue.enqueue(world.session, conversation_id=conversation_id, decision=decision(), now=NOW)
    agent_id = world.agents["vip"].id
    queue.claim(world.session, conversation_id=conversation_id, agent_id=agent_id, now=NOW)
    assert (
        queue.add_note(world.session, escalation_id=escalation.id, author="agent.vip", text=" 老客户 ").text == "老客户"
    )
    with pytest.raises(ValueError):
        queue.add_note(world.session, escalation_id=escalation.id, author="agent.vip", text="  ")

    points_before = world.customer.points
    offer = queue.offer_compensation(world.session, escalation_id=escalation.id, agent_id=agent_id, points=500)
    assert offer.kind == "points" and world.customer.points == points_before + 500
    coupon = queue.offer_compensation(
        world.session, escalation_id=escalation.id, agent_id=agent_id, coupon_amount=Decimal("50")
    )
    assert coupon.kind == "coupon" and coupon.coupon_amount == Decimal("50")
    for bad in ({}, {"points": 0}, {"points": 10, "coupon_amount": Decimal("1")}):
        with pytest.raises(ValueError):
            queue.offer_compensation(world.session, escalation_id=escalation.id, agent_id=agent_id, **bad)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="outcome"):
        queue.close(world.session, escalation_id=escalation.id, summary="ok", outcome="done")
    closed = queue.close(
        world.session, escalation_id=escalation.id, summary="已退款", outcome="resolved", now=NOW + timedelta(minutes=5)
    )
    assert (closed.status, closed.outcome) == ("closed", "resolved")
    assert queue.close(world.session, escalation_id=escalation.id, summary="已退款", outcome="resolved").id == closed.id
    with pytest.raises(queue.EscalationClosedError):
        queue.close(world.session, escalation_id=escalation.id, summary="别的", outcome="ticket")
    assert queue.average_handling_seconds(world.session) == 300

    # A new escalation of the same conversation may open once the previous one is closed.
    reopened, created = queue.enqueue(world.session, conversation_id=conversation_id, decision=decision(), now=NOW)
    assert created and reopened.id != escalation.id
    queue.close(world.session, escalation_id=reopened.id, summary="重复", outcome="ticket")


@pytest.mark.parametrize(("score", "follow_up"), [(1, True), (2, True), (3, False), (5, False)])
def test_csat_is_stored_with_agent_and_escalation_and_low_scores_open_a_task(
    world: World, score: int, follow_up: bool
) -> None:
    conversation_id = world.conversation("r")
    escalation, _ = queue.enqueue(world.session, conversation_id=conversation_id, decision=decision(), now=NOW)
    queue.claim(world.session, conversation_id=conversation_id, agent_id=world.agents["vip"].id, now=NOW)
    queue.close(world.session, escalation_id=escalation.id, summary="s", outcome="resolved")
    rating = record_csat(world.session, conversation_id=conversation_id, score=score, comment="等太久")
    assert (rating.agent_id, rating.escalation_id) == (world.agents["vip"].id, escalation.id)
    assert (rating.follow_up_task_id is not None) == follow_up
    again = record_csat(world.session, conversation_id=conversation_id, score=5)
    assert again.id == rating.id and again.score == score  # a retry stores nothing new
    assert world.session.scalar(select(func.count()).select_from(SupervisorTask)) == (1 if follow_up else 0)
    with pytest.raises(ValueError):
        record_csat(world.session, conversation_id=conversation_id, score=6)


def test_agents_flag_and_clear_suspected_abuse(world: World) -> None:
    flag_abuse(world.session, customer_id=world.customer.id, note="反复辱骂客服", flagged_by="agent.vip", now=NOW)
    assert (world.customer.abuse_note, world.customer.abuse_flagged_by) == ("反复辱骂客服", "agent.vip")
    flag_abuse(world.session, customer_id=world.customer.id, note="", flagged_by="supervisor")
    assert world.customer.abuse_flagged_at is None


def _claim_concurrently(factory: sessionmaker[Session], claims: list[tuple[int, int]]) -> list[str]:
    """Run each (conversation_id, agent_id) claim in its own thread and transaction, all at once."""
    barrier = threading.Barrier(len(claims))

    def attempt(conversation_id: int, agent_id: int) -> str:
        barrier.wait()
        try:
            with factory.begin() as session:
                queue.claim(session, conversation_id=conversation_id, agent_id=agent_id)
            return "claimed"
        except queue.QueueError as error:
            return type(error).__name__

    with ThreadPoolExecutor(max_workers=len(claims)) as pool:
        return sorted(pool.map(lambda claim: attempt(*claim), claims))


def test_concurrent_claims_never_double_assign_or_exceed_capacity(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        _tenant(session)
        one = Agent(name="甲", username="agent.one", skills=["hotel"], max_concurrent=1)
        two = Agent(name="乙", username="agent.two", skills=["hotel"], max_concurrent=1)
        customer = Customer(name="客户", mobile="13800000009", tier="iron")
        session.add_all([one, two, customer])
        session.flush()
        world = World(session, {"one": one, "two": two}, customer)
        shared, first, second = world.conversation("s"), world.conversation("f"), world.conversation("g")
        for conversation_id in (shared, first, second):
            queue.enqueue(session, conversation_id=conversation_id, decision=decision(), business_code="hotel")
        one_id, two_id = one.id, two.id
    # Two agents grab the same conversation: exactly one gets it.
    assert _claim_concurrently(blank_sessionmaker, [(shared, one_id), (shared, two_id)]) == [
        "AlreadyClaimedError",
        "claimed",
    ]
    with blank_sessionmaker() as session:
        owner = queue.open_escalation(session, conversation_id=shared)
        assert owner is not None and owner.agent_id in (one_id, two_id)
        busy = owner.agent_id
    # The busy agent (capacity 1) grabs two more at once: both refused. The free one takes two: one fits.
    assert _claim_concurrently(blank_sessionmaker, [(first, busy), (second, busy)]) == ["AgentAtCapacityError"] * 2
    free = two_id if busy == one_id else one_id
    assert _claim_concurrently(blank_sessionmaker, [(first, free), (second, free)]) == [
        "AgentAtCapacityError",
        "claimed",
    ]
    with blank_sessionmaker() as session:
        assert queue.agent_load(session, agent_id=free) == 1


def _conversation_of(session: Session, web_user_id: str | None) -> int:
    customer_id = (
        session.scalar(select(Customer.id).where(Customer.web_user_id == web_user_id)) if web_user_id else None
    )
    conversation = Conversation(
        channel="web",
        channel_user_id=web_user_id or "anon:x",
        customer_id=customer_id,
        rasa_sender_id=f"web:{web_user_id}:handoff",
        started_at=NOW,
    )
    session.add(conversation)
    session.flush()
    return conversation.id


CLOSED_HOURS = datetime(2026, 11, 20, 16, 0, tzinfo=timezone.utc)  # midnight in Shanghai


@pytest.mark.parametrize(
    ("web_user_id", "signal", "counters", "now", "action"),
    [
        ("demo-platinum", Signal("complaint", "low"), Counters(), NOW, "escalate"),
        ("demo-lead", Signal("explicit_request"), Counters(explicit_requests=1), NOW, "stay_with_bot"),
        ("demo-lead", Signal("explicit_request"), Counters(explicit_requests=2), NOW, "escalate"),
        ("demo-lead", Signal("complaint", "medium"), Counters(), NOW, "ticket"),
        ("demo-iron", Signal("explicit_request"), Counters(explicit_requests=1), CLOSED_HOURS, "offer_leave_message"),
        ("demo-gold", Signal("negative_sentiment"), Counters(), NOW, "escalate"),
        (None, Signal("explicit_request"), Counters(explicit_requests=1), NOW, "ask_mobile"),
        (None, Signal("explicit_request"), Counters(explicit_requests=1, mobile_asked=1), NOW, "escalate"),
    ],
)
def test_request_handoff_decides_by_the_customers_tier_and_queues(
    seeded_session: Session, web_user_id: str | None, signal: Signal, counters: Counters, now: datetime, action: str
) -> None:
    conversation_id = _conversation_of(seeded_session, web_user_id)
    result = queue.request_handoff(
        seeded_session, conversation_id=conversation_id, signal=signal, counters=counters, now=now
    )
    assert result.action == action, result.reason
    assert result.hotline == "400-851-6688" and result.service_hours_text_zh  # from the CRM's service desk
    if action == "escalate":
        assert result.escalation is not None and result.position is not None
        assert result.position.position >= 1
        again = queue.request_handoff(
            seeded_session, conversation_id=conversation_id, signal=signal, counters=counters, now=now
        )
        assert again.escalation is not None and again.escalation.id == result.escalation.id  # a retry
    else:
        assert (
            result.escalation is None and queue.open_escalation(seeded_session, conversation_id=conversation_id) is None
        )


def test_platinum_is_served_before_everyone_already_waiting(seeded_session: Session) -> None:
    iron = _conversation_of(seeded_session, "demo-iron")
    queue.request_handoff(
        seeded_session,
        conversation_id=iron,
        signal=Signal("explicit_request"),
        counters=Counters(explicit_requests=1),
        now=NOW,
    )
    platinum = _conversation_of(seeded_session, "demo-platinum")
    result = queue.request_handoff(
        seeded_session, conversation_id=platinum, signal=Signal("complaint", "high"), counters=Counters(), now=NOW
    )
    assert result.escalation is not None and (result.escalation.priority, result.escalation.agent_group) == (100, "vip")
    assert result.position is not None and result.position.position == 1
    assert result.escalation.sla_due_at == NOW + timedelta(seconds=30)


def test_compensation_for_an_anonymous_visitor_is_refused_politely(world: World) -> None:
    """No customer to credit is a ValueError (the console's 422), never an assert on the request path."""
    conversation_id = world.conversation("anonymous")
    world.session.get(Conversation, conversation_id).customer_id = None
    world.session.flush()
    escalation, _ = queue.enqueue(world.session, conversation_id=conversation_id, decision=decision(), now=NOW)
    with pytest.raises(ValueError, match="identified customer"):
        queue.offer_compensation(world.session, escalation_id=escalation.id, agent_id=None, points=100)
