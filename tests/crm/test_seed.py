import re
from collections import defaultdict
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from core.settings import PROJECT_ROOT, get_settings
from crm.enums import (
    BOOKING_STATUSES,
    BUSINESS_CODES,
    COMPLAINT_STATUSES,
    ORDER_STATUSES,
    is_valid_order_timeline,
)
from crm.models import (
    Base,
    Booking,
    Complaint,
    Customer,
    FaqEntry,
    NumberSequence,
    Order,
    Store,
)
from crm.numbers import BOOKING_NUMBER_RE, MOBILE_RE, ORDER_NUMBER_RE, TICKET_NUMBER_RE
from crm.seed import seed, seed_demo_tenant
from crm.services.bookings.policy import get_booking_policy
from crm.services.tiers import recompute_tiers
from tests.crm.conftest import ANCHOR

LOCAL = ZoneInfo(get_settings().timezone)
ANCHOR_MIDNIGHT = datetime.combine(ANCHOR, time(0, 0), tzinfo=LOCAL)
REQUIRED_FAQ_KEYS = {
    "business_hours", "store_locations", "contact", "membership_tiers", "points", "payment_methods",
    "invoice", "return_policy", "delivery_time", "shipping_fee", "parking", "car_wash_price",
    "maintenance_items", "hotel_checkin_time", "hotel_breakfast", "restaurant_private_room",
    "tailoring_time", "size_guide", "booking_cancellation_policy", "wifi",
}  # fmt: skip


def _all_orders(session: Session) -> list[Order]:
    return list(session.scalars(select(Order).options(selectinload(Order.events)).order_by(Order.id)))


def _rows(session: Session, model: type[Base]) -> list[tuple[object, ...]]:
    table = Base.metadata.tables[model.__tablename__]
    return [tuple(row) for row in session.execute(select(table).order_by(*table.primary_key.columns))]


def _count(session: Session, model: type[Base]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_seed_volumes(seeded_session: Session) -> None:
    assert _count(seeded_session, Customer) >= 200
    assert _count(seeded_session, Order) >= 500
    assert _count(seeded_session, Booking) >= 100
    assert _count(seeded_session, Complaint) >= 20


def test_every_order_status_is_present(seeded_session: Session) -> None:
    statuses = set(seeded_session.scalars(select(Order.status).distinct()))
    assert statuses == set(ORDER_STATUSES)


def test_stores_cover_two_cities_and_every_business(seeded_session: Session) -> None:
    stores = seeded_session.scalars(select(Store)).all()
    assert len(stores) >= 8
    assert {store.city for store in stores} == {"贵阳", "成都"}
    assert {store.business.code for store in stores} == set(BUSINESS_CODES)
    assert any("花果园" in store.name and store.city == "贵阳" for store in stores)


def test_top_fifth_of_customers_hold_most_of_the_spend(seeded_session: Session) -> None:
    spends = sorted(seeded_session.scalars(select(Customer.lifetime_spend)), reverse=True)
    top = spends[: round(len(spends) * 0.2)]
    assert sum(top) / sum(spends) >= Decimal("0.7")


def test_seeded_tiers_are_the_recomputed_ones(seeded_session: Session) -> None:
    """The seed runs the policy/tiers.yml rule: recomputing changes nothing, every tier is in use."""
    customers = seeded_session.scalars(select(Customer)).all()
    before = {customer.id: customer.tier for customer in customers}
    report = recompute_tiers(seeded_session, now=ANCHOR_MIDNIGHT, changed_by="test")
    assert report.changed == 0
    assert {customer.id: customer.tier for customer in customers} == before
    assert {customer.tier for customer in customers} == {"platinum", "gold", "iron", "lead"}
    assert all(customer.tier_reason for customer in customers)
    assert any(customer.tier_override for customer in customers)


def test_mobiles_are_valid_and_unique(seeded_session: Session) -> None:
    mobiles = list(seeded_session.scalars(select(Customer.mobile)))
    assert all(MOBILE_RE.fullmatch(mobile) for mobile in mobiles)
    assert len(set(mobiles)) == len(mobiles)
    complaint_mobiles = seeded_session.scalars(select(Complaint.contact_mobile)).all()
    assert all(MOBILE_RE.fullmatch(mobile or "") for mobile in complaint_mobiles)


def test_business_numbers_follow_the_contract_and_their_local_day(seeded_session: Session) -> None:
    for number, moment in seeded_session.execute(select(Order.order_number, Order.placed_at)):
        match = ORDER_NUMBER_RE.fullmatch(number)
        assert match is not None and match.group(1) == moment.astimezone(LOCAL).strftime("%Y%m%d")
    for number, moment in seeded_session.execute(select(Booking.booking_number, Booking.created_at)):
        match = BOOKING_NUMBER_RE.fullmatch(number)
        assert match is not None and match.group(1) == moment.astimezone(LOCAL).strftime("%Y%m%d")
    for number, moment in seeded_session.execute(select(Complaint.ticket_number, Complaint.created_at)):
        match = TICKET_NUMBER_RE.fullmatch(number)
        assert match is not None and match.group(1) == moment.astimezone(LOCAL).strftime("%Y%m%d")


def test_number_sequences_cover_every_seeded_number(seeded_session: Session) -> None:
    highest: dict[tuple[str, str], int] = defaultdict(int)
    numbers = [
        *seeded_session.scalars(select(Order.order_number)),
        *seeded_session.scalars(select(Booking.booking_number)),
        *seeded_session.scalars(select(Complaint.ticket_number)),
    ]
    for number in numbers:
        key = (number[:2], number[2:10])
        highest[key] = max(highest[key], int(number[10:]))
    sequences = {(row.prefix, row.day): row.last_value for row in seeded_session.scalars(select(NumberSequence))}
    assert sequences == dict(highest)


def test_order_timelines_are_ordered_and_end_in_the_order_status(seeded_session: Session) -> None:
    for order in _all_orders(seeded_session):
        statuses = [event.status for event in order.events]
        moments = [event.occurred_at for event in order.events]
        assert is_valid_order_timeline(statuses), (order.order_number, statuses)
        assert statuses[-1] == order.status
        assert moments == sorted(moments)
        assert moments[0] == order.placed_at
        assert moments[-1] < ANCHOR_MIDNIGHT
        assert order.amount == sum(item.unit_price * item.quantity for item in order.items)
        if "shipped" in statuses:
            assert order.store_id is None and order.carrier and order.tracking_number
            assert order.shipping_address and order.recipient_mobile
        else:
            assert order.tracking_number is None


def test_in_flight_orders_expect_delivery_today_or_later(seeded_session: Session) -> None:
    in_flight = seeded_session.scalars(
        select(Order).where(Order.status.in_(["shipped", "in_transit", "out_for_delivery"]))
    ).all()
    assert in_flight
    assert all(order.estimated_delivery_date and order.estimated_delivery_date >= ANCHOR for order in in_flight)


def test_bookings_cover_every_business_and_status(seeded_session: Session) -> None:
    bookings = seeded_session.scalars(select(Booking)).all()
    stores = {store.id: store.business.code for store in seeded_session.scalars(select(Store))}
    assert {stores[booking.store_id] for booking in bookings} == set(BUSINESS_CODES)
    assert {booking.status for booking in bookings} == set(BOOKING_STATUSES)
    for booking in bookings:
        assert booking.end_at > booking.start_at
        assert booking.created_at <= booking.start_at
        upcoming = booking.start_at >= ANCHOR_MIDNIGHT
        allowed = {"confirmed", "modified", "cancelled"} if upcoming else {"completed", "no_show", "cancelled"}
        assert booking.status in allowed
        business = stores[booking.store_id]
        if business == "hotel":
            assert booking.nights and booking.room_type
            assert booking.start_at.astimezone(LOCAL).strftime("%H:%M") == "14:00"
            assert booking.end_at.astimezone(LOCAL).strftime("%H:%M") == "12:00"
        if business == "restaurant":
            assert booking.area in ("hall", "private_room") and booking.party_size
        if business == "car_care":
            assert booking.plate_number and booking.plate_number[:2] in ("贵A", "川A")


def test_complaints_cover_every_status_with_consistent_handling(seeded_session: Session) -> None:
    complaints = seeded_session.scalars(select(Complaint)).all()
    assert {complaint.status for complaint in complaints} == set(COMPLAINT_STATUSES)
    for complaint in complaints:
        assert complaint.due_at > complaint.created_at
        assert (complaint.handler_agent_id is None) == (complaint.status == "open")
        assert (complaint.resolved_at is not None) == (complaint.status in ("resolved", "closed"))


def test_demo_customers_have_one_tier_each_and_orders(seeded_session: Session) -> None:
    demos = {
        str(customer.web_user_id): customer
        for customer in seeded_session.scalars(select(Customer).where(Customer.web_user_id.like("demo-%")))
    }
    assert set(demos) == {"demo-platinum", "demo-gold", "demo-iron", "demo-lead"}
    for web_user_id, customer in demos.items():
        assert customer.effective_tier == web_user_id.removeprefix("demo-")
        assert customer.wechat_openid == f"o-{web_user_id}"
        orders = seeded_session.scalar(select(func.count()).where(Order.customer_id == customer.id)) or 0
        assert orders >= 2


def test_faq_has_every_required_key_and_store_specific_hours(seeded_session: Session) -> None:
    keys = set(seeded_session.scalars(select(FaqEntry.key)))
    assert REQUIRED_FAQ_KEYS <= keys
    store_hours = seeded_session.scalar(
        select(func.count()).where(FaqEntry.key == "business_hours", FaqEntry.store_id.is_not(None))
    )
    assert store_hours == seeded_session.scalar(select(func.count()).select_from(Store))
    answers = seeded_session.scalars(select(FaqEntry.answer_zh)).all()
    assert all(answer.strip() and "  " not in answer for answer in answers)


def test_seeding_again_changes_nothing(seeded_engine: Engine) -> None:
    with Session(seeded_engine) as session:
        before = _count(session, Order)
        report = seed(session, anchor=date(2030, 1, 1))
        assert report.already_seeded
        assert "nothing to do" in report.summary()
        assert seed_demo_tenant(session) is False
        assert _count(session, Order) == before
        session.rollback()


def test_seed_is_deterministic_for_an_anchor(seeded_engine: Engine, blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        report = seed(session, anchor=ANCHOR)
    assert not report.already_seeded
    with Session(seeded_engine) as first, blank_sessionmaker() as second:
        for model in (Customer, Order, Booking, Complaint, FaqEntry, NumberSequence, Store):
            assert _rows(first, model) == _rows(second, model), model.__tablename__


def test_another_anchor_keeps_the_people_and_shifts_the_dates(
    seeded_engine: Engine, blank_sessionmaker: sessionmaker[Session]
) -> None:
    with blank_sessionmaker.begin() as session:
        seed(session, anchor=date(2027, 3, 1))
    query = select(Customer.name, Customer.mobile, Customer.tier).order_by(Customer.id)
    with Session(seeded_engine) as first, blank_sessionmaker() as second:
        assert first.execute(query).all() == second.execute(query).all()
        latest = second.scalar(select(func.max(Order.placed_at)))
    assert latest is not None and latest.astimezone(LOCAL).date() == date(2027, 2, 28)


# Texts that may state the hotel's times, and how they state them: "入住时间为 14:00 以后", "入住 14:00 后",
# "退房时间为 12:00 前" ("延迟退房至 14:00" is the late check-out, another fact).
_STAY_TIME_TEXTS = ("crm/seed/data", "policy", "domain.yml", "api/texts.zh.yml", "crm/content.zh.yml")
_CHECK_IN = re.compile(r"入住(?:时间[为是]?)?\s*(\d{1,2}:\d\d)\s*(?:以后|后)")
_CHECK_OUT = re.compile(r"退房(?:时间[为是]?)?\s*(\d{1,2}:\d\d)\s*(?:以前|前)")


def test_every_text_that_states_the_check_in_and_out_times_says_the_booking_policys() -> None:
    """policy/bookings.yml is the one home of a stay's times; a text saying another time fails here."""
    stays = [business for business in get_booking_policy().businesses.values() if business.kind == "stay"]
    check_ins = {business.check_in_time for business in stays}
    check_outs = {business.check_out_time for business in stays}
    said_in: list[tuple[str, str]] = []
    said_out: list[tuple[str, str]] = []
    for name in _STAY_TIME_TEXTS:
        path = PROJECT_ROOT / name
        for file in sorted(path.rglob("*.yml")) if path.is_dir() else [path]:
            text = file.read_text(encoding="utf-8")
            said_in += [(file.name, found) for found in _CHECK_IN.findall(text)]
            said_out += [(file.name, found) for found in _CHECK_OUT.findall(text)]
    assert said_in and said_out  # the FAQ answer states both: the patterns still read it
    assert [(file, time) for file, time in said_in if time not in check_ins] == []
    assert [(file, time) for file, time in said_out if time not in check_outs] == []
