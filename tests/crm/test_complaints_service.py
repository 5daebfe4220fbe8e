"""Complaint intake and status on SQLite and PostgreSQL: rules, SLA, dedupe, races, privacy."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Booking, Complaint, Customer, Order, TierServiceLevel
from crm.numbers import TICKET_NUMBER_RE
from crm.services import complaint_rules, complaints

# 2026-11-21 10:00 in Asia/Shanghai: after the seed anchor, so seeded history is in the past.
NOW = datetime(2026, 11, 21, 2, 0, tzinfo=timezone.utc)


def _customer(session: Session, web_user_id: str) -> Customer:
    return session.scalars(select(Customer).where(Customer.web_user_id == web_user_id)).one()


def _count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Complaint)) or 0)


# ---- rules (pure) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("你们花果园店的服务员态度太差了，我要投诉", "service_attitude"),
        ("菜里有虫子", "hygiene"),
        ("买的衬衫穿一次就起球了", "product_quality"),
        ("快递一个星期了还没到", "delivery"),
        ("结账的时候多收了我两百块", "billing"),
        ("隔壁房间太吵了，隔音很差", "facilities"),
        ("我要投诉", None),
    ],
)
def test_category_is_inferred_from_keyword_hints(text: str, category: str | None) -> None:
    assert complaint_rules.infer_category(text) == category


def test_category_answer_accepts_labels_and_synonyms() -> None:
    assert complaint_rules.category_from_answer("卫生/食品安全") == "hygiene"
    assert complaint_rules.category_from_answer("是收费的问题") == "billing"
    assert complaint_rules.category_from_answer("随便说点什么") is None


@pytest.mark.parametrize(
    ("text", "substantive"),
    [
        ("我要投诉", False),
        ("太差劲了，我要投诉！", False),
        ("菜里有头发", True),
        ("等了两个小时没人接待", True),
    ],
)
def test_substantive_description(text: str, substantive: bool) -> None:
    assert complaint_rules.is_substantive_description(text) is substantive


@pytest.mark.parametrize(
    ("text", "severity"),
    [
        ("吃完你们的菜全家都拉肚子了", "high"),
        ("服务员把热汤洒我手上，烫伤了", "high"),
        ("再不处理我就打１２３１５", "high"),
        ("我要找媒体曝光你们", "high"),
        ("服务员态度不好", "normal"),
    ],
)
def test_severity_rules(text: str, severity: str) -> None:
    assert complaint_rules.severity_for(text, repeated=False) == severity
    assert complaint_rules.severity_for("服务员态度不好", repeated=True) == "high"


def test_normalised_description_ignores_spacing_punctuation_width_and_emoji() -> None:
    assert complaint_rules.normalize_description("服务员 态度太差了！！😡") == complaint_rules.normalize_description(
        "服务员态度太差了!"
    )


def test_due_text_uses_local_day_labels() -> None:
    assert complaint_rules.due_text(NOW + timedelta(hours=4), now=NOW) == "今天14:00"
    assert complaint_rules.due_text(NOW + timedelta(hours=24), now=NOW) == "明天10:00"
    assert complaint_rules.due_text(NOW + timedelta(days=5), now=NOW) == "11月26日 10:00"


# ---- submission, severity and SLA ---------------------------------------------------------------


def test_identified_customer_gets_a_ticket_with_the_tier_sla(seeded_session: Session) -> None:
    platinum = _customer(seeded_session, "demo-platinum")
    receipt = complaints.submit_complaint(
        seeded_session,
        customer_id=platinum.id,
        contact_mobile=None,
        category="service_attitude",
        description="花果园店的服务员态度太差了",
        now=NOW,
    )
    assert TICKET_NUMBER_RE.fullmatch(receipt.ticket_number)
    assert receipt.created and receipt.severity == "normal"
    assert receipt.response_hours == 4 and receipt.due_at == NOW + timedelta(hours=4)
    assert receipt.due_text_zh == "今天14:00"
    row = seeded_session.scalars(select(Complaint).where(Complaint.ticket_number == receipt.ticket_number)).one()
    assert row.customer_id == platinum.id and row.contact_mobile == platinum.mobile
    assert row.status == "open" and row.fingerprint and row.category == "service_attitude"
    assert receipt.masked_contact_mobile == "138****0001"


def test_food_safety_is_high_severity_with_the_high_sla(seeded_session: Session) -> None:
    gold = _customer(seeded_session, "demo-gold")
    receipt = complaints.submit_complaint(
        seeded_session,
        customer_id=gold.id,
        contact_mobile=None,
        category="hygiene",
        description="菜里有虫子，吃完还拉肚子",
        now=NOW,
    )
    assert receipt.severity == "high" and receipt.response_hours == 4  # gold: high 4h, normal 12h


def test_a_repeated_complaint_within_the_window_is_high(seeded_session: Session) -> None:
    iron = _customer(seeded_session, "demo-iron")
    first = complaints.submit_complaint(
        seeded_session,
        customer_id=iron.id,
        contact_mobile=None,
        category="delivery",
        description="快递还没到",
        now=NOW - timedelta(days=3),
    )
    second = complaints.submit_complaint(
        seeded_session,
        customer_id=iron.id,
        contact_mobile=None,
        category="billing",
        description="多收了我五十块",
        now=NOW,
    )
    assert first.severity == "normal" and first.response_hours == 24
    assert second.severity == "high" and second.response_hours == 8
    assert first.ticket_number != second.ticket_number


def test_anonymous_complaint_gets_the_lowest_tier_sla(seeded_session: Session) -> None:
    receipt = complaints.submit_complaint(
        seeded_session,
        customer_id=None,
        contact_mobile="13700001111",
        category="facilities",
        description="房间空调坏了一晚上",
        now=NOW,
    )
    lowest = seeded_session.scalars(select(TierServiceLevel).order_by(TierServiceLevel.queue_priority)).first()
    assert receipt.response_hours == lowest.complaint_response_hours_normal == 48
    assert receipt.masked_contact_mobile == "137****1111"


def test_anonymous_complaint_needs_a_valid_mobile(seeded_session: Session) -> None:
    with pytest.raises(complaints.InvalidComplaintError):
        complaints.submit_complaint(
            seeded_session,
            customer_id=None,
            contact_mobile=None,
            category="other",
            description="有问题",
            now=NOW,
        )
    with pytest.raises(complaints.InvalidComplaintError):
        complaints.submit_complaint(
            seeded_session,
            customer_id=None,
            contact_mobile="1370000111",
            category="other",
            description="有问题",
        )
    with pytest.raises(complaints.InvalidComplaintError):
        complaints.submit_complaint(
            seeded_session,
            customer_id=None,
            contact_mobile="13700001111",
            category="bogus",
            description="有问题",
        )


# ---- related orders and bookings ----------------------------------------------------------------


def test_reference_must_belong_to_the_customer_or_match_the_mobile(seeded_session: Session) -> None:
    platinum = _customer(seeded_session, "demo-platinum")
    gold = _customer(seeded_session, "demo-gold")
    own_order = seeded_session.scalars(select(Order.order_number).where(Order.customer_id == platinum.id)).first()
    own_booking = seeded_session.scalars(
        select(Booking.booking_number).where(Booking.customer_id == platinum.id)
    ).first()

    def outcome(reference: str, **who: object) -> str:
        return complaints.check_reference(seeded_session, reference=reference, **who).outcome  # type: ignore[arg-type]

    assert outcome(own_order, customer_id=platinum.id, mobile=None) == "ok"
    assert outcome(own_booking.lower(), customer_id=platinum.id, mobile=None) == "ok"
    assert outcome(own_order, customer_id=gold.id, mobile=None) == "not_found"  # someone else's: not revealed
    assert outcome(own_order, customer_id=None, mobile=platinum.mobile) == "ok"
    assert outcome(own_order, customer_id=None, mobile="13700001111") == "not_found"
    assert outcome(own_order, customer_id=None, mobile=None) == "needs_mobile"
    assert outcome("DD209901010001", customer_id=platinum.id, mobile=None) == "not_found"
    assert outcome("DD2026", customer_id=platinum.id, mobile=None) == "invalid_format"

    receipt = complaints.submit_complaint(
        seeded_session,
        customer_id=platinum.id,
        contact_mobile=None,
        category="product_quality",
        description="西装开线了",
        reference=own_order,
        now=NOW,
    )
    row = seeded_session.scalars(select(Complaint).where(Complaint.ticket_number == receipt.ticket_number)).one()
    order = seeded_session.scalars(select(Order).where(Order.order_number == own_order)).one()
    assert row.order_id == order.id and row.business_id == order.business_id
    with pytest.raises(complaints.InvalidComplaintError):
        complaints.submit_complaint(
            seeded_session,
            customer_id=gold.id,
            contact_mobile=None,
            category="product_quality",
            description="西装开线了",
            reference=own_order,
            now=NOW,
        )


# ---- duplicates ---------------------------------------------------------------------------------


def test_the_same_complaint_twice_within_the_window_returns_the_first_ticket(seeded_session: Session) -> None:
    gold = _customer(seeded_session, "demo-gold")
    submit = {"customer_id": gold.id, "contact_mobile": None, "category": "service_attitude"}
    first = complaints.submit_complaint(seeded_session, **submit, description="服务员态度太差了！", now=NOW)
    before = _count(seeded_session)
    double_tap = complaints.submit_complaint(
        seeded_session, **submit, description="服务员 态度太差了😡", now=NOW + timedelta(minutes=2)
    )
    assert double_tap.ticket_number == first.ticket_number and double_tap.created is False
    assert _count(seeded_session) == before

    later = complaints.submit_complaint(
        seeded_session, **submit, description="服务员态度太差了", now=NOW + timedelta(minutes=25)
    )
    assert later.created and later.ticket_number != first.ticket_number


def test_a_double_tap_straddling_a_window_boundary_is_still_one_ticket(seeded_session: Session) -> None:
    window = complaint_rules.load_rules().dedupe_window_minutes * 60
    boundary = datetime.fromtimestamp((NOW.timestamp() // window + 1) * window, tz=timezone.utc)
    submit = {
        "customer_id": None,
        "contact_mobile": "13700002222",
        "category": "delivery",
        "description": "快递丢了",
    }
    first = complaints.submit_complaint(seeded_session, **submit, now=boundary - timedelta(seconds=5))
    second = complaints.submit_complaint(seeded_session, **submit, now=boundary + timedelta(seconds=5))
    assert second.ticket_number == first.ticket_number and not second.created


def test_a_retried_request_with_the_same_idempotency_key_returns_the_first_ticket(
    seeded_session: Session,
) -> None:
    submit = {
        "customer_id": None,
        "contact_mobile": "13700003333",
        "category": "billing",
        "idempotency_key": "msg:42",
    }
    first = complaints.submit_complaint(seeded_session, **submit, description="多扣了钱", now=NOW)
    retry = complaints.submit_complaint(
        seeded_session, **submit, description="多扣了钱，请尽快处理", now=NOW + timedelta(hours=2)
    )
    assert retry.ticket_number == first.ticket_number and not retry.created


def _blank_customer(session: Session) -> int:
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
    session.flush()
    customer = Customer(name="陈思雨", gender="female", mobile="13985120002", tier="gold")
    session.add(customer)
    session.flush()
    return customer.id


def test_concurrent_double_submit_yields_one_ticket(blank_sessionmaker: sessionmaker[Session]) -> None:
    """The second worker waits on the first's uncommitted row, then gets its ticket back."""
    with blank_sessionmaker.begin() as session:
        customer_id = _blank_customer(session)
    submit = {
        "customer_id": customer_id,
        "contact_mobile": None,
        "category": "hygiene",
        "description": "菜里有虫子",
    }
    results: list[complaints.ComplaintReceiptOut] = []
    errors: list[BaseException] = []

    def second_worker() -> None:
        try:
            with blank_sessionmaker.begin() as session:
                results.append(complaints.submit_complaint(session, **submit, idempotency_key="msg:2"))
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    with blank_sessionmaker.begin() as session:
        first = complaints.submit_complaint(session, **submit, idempotency_key="msg:1")
        worker = threading.Thread(target=second_worker)
        worker.start()
        time.sleep(0.3)  # the worker blocks on our uncommitted row (PostgreSQL) or the write lock (SQLite)
    worker.join(timeout=30)
    assert not errors
    assert [r.ticket_number for r in results] == [first.ticket_number] and not results[0].created
    with blank_sessionmaker() as session:
        assert _count(session) == 1


def test_losing_the_insert_race_returns_the_winner(
    blank_sessionmaker: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The duplicate check misses the winner (stale read); the unique index and the savepoint catch it."""
    with blank_sessionmaker.begin() as session:
        customer_id = _blank_customer(session)
        winner = complaints.submit_complaint(
            session,
            customer_id=customer_id,
            contact_mobile=None,
            category="billing",
            description="多收费",
            idempotency_key="msg:7",
        )
    original = complaints._find_duplicate
    calls: list[int] = []

    def stale_first(*args: object, **kwargs: object) -> Complaint | None:
        calls.append(1)
        return None if len(calls) == 1 else original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(complaints, "_find_duplicate", stale_first)
    with blank_sessionmaker.begin() as session:
        again = complaints.submit_complaint(
            session,
            customer_id=customer_id,
            contact_mobile=None,
            category="billing",
            description="多收费",
            idempotency_key="msg:7",
        )
        assert session.scalar(select(func.count()).select_from(Complaint)) == 1  # transaction still usable
    assert again.ticket_number == winner.ticket_number and not again.created and len(calls) == 2


# ---- status -------------------------------------------------------------------------------------


def test_status_only_for_the_owner_or_the_mobile_on_the_ticket(seeded_session: Session) -> None:
    platinum = _customer(seeded_session, "demo-platinum")
    gold = _customer(seeded_session, "demo-gold")
    mine = complaints.submit_complaint(
        seeded_session,
        customer_id=platinum.id,
        contact_mobile=None,
        category="facilities",
        description="停车场的电梯坏了",
        now=NOW,
    )
    by_owner = complaints.get_complaint_status(
        seeded_session, ticket_number=mine.ticket_number, customer_id=platinum.id
    )
    assert by_owner is not None and by_owner.status == "open" and by_owner.status_label_zh
    assert by_owner.last_update_zh == complaint_rules.load_rules().no_update_note
    assert by_owner.masked_contact_mobile == "138****0001"
    by_mobile = complaints.get_complaint_status(
        seeded_session, ticket_number=mine.ticket_number.lower(), mobile=platinum.mobile
    )
    assert by_mobile == by_owner
    assert (
        complaints.get_complaint_status(seeded_session, ticket_number=mine.ticket_number, customer_id=gold.id) is None
    )
    assert (
        complaints.get_complaint_status(seeded_session, ticket_number=mine.ticket_number, mobile="13700001111") is None
    )
    assert complaints.get_complaint_status(seeded_session, ticket_number=mine.ticket_number) is None
    assert complaints.get_complaint_status(seeded_session, ticket_number="TS209901010001", customer_id=gold.id) is None


def test_handled_ticket_shows_the_handlers_last_update(seeded_session: Session) -> None:
    handled = seeded_session.scalars(
        select(Complaint).where(Complaint.status == "in_progress", Complaint.contact_mobile.is_not(None))
    ).first()
    status = complaints.get_complaint_status(
        seeded_session, ticket_number=handled.ticket_number, mobile=handled.contact_mobile
    )
    assert status is not None and status.last_update_zh == handled.last_update_note
    assert status.status_label_zh == complaint_rules.load_rules().status_labels["in_progress"]


def test_my_complaints_lists_only_open_ones_newest_first(seeded_session: Session) -> None:
    lead = _customer(seeded_session, "demo-lead")
    assert complaints.list_open_complaints(seeded_session, customer_id=lead.id) == []
    older = complaints.submit_complaint(
        seeded_session,
        customer_id=lead.id,
        contact_mobile=None,
        category="delivery",
        description="没收到货",
        now=NOW - timedelta(hours=5),
    )
    newer = complaints.submit_complaint(
        seeded_session,
        customer_id=lead.id,
        contact_mobile=None,
        category="billing",
        description="多扣了钱",
        now=NOW,
    )
    seeded_session.scalars(
        select(Complaint).where(Complaint.ticket_number == older.ticket_number)
    ).one().status = "closed"
    seeded_session.flush()
    listed = complaints.list_open_complaints(seeded_session, customer_id=lead.id, now=NOW)
    assert [item.ticket_number for item in listed] == [newer.ticket_number]
