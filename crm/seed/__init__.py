"""Deterministic demo data for the CRM: `seed(session, anchor=...)` or `python -m crm.seed`.

Tenant facts (businesses, stores, prices, tiers, FAQ answers, agents) come from the YAML files in
crm/seed/data; customers, orders, bookings and complaints are generated from random.Random(random_seed).
Tiers and churn are then computed by the same rule as `python -m crm.tiers recompute` (policy/tiers.yml),
and in development every agent, `supervisor` and `ops` get a console login with the demo password.

Dates: every generated moment is an offset from an *anchor date* ("now" = its local midnight). The CLI's
default anchor is today in settings.timezone, so a fresh demo database always has orders in transit
"yesterday" and bookings "next week"; pass --anchor-date (or CRM_SEED_ANCHOR_DATE) to pin it. The random
draws never depend on the anchor: the same anchor gives byte-identical rows, another anchor gives the same
people, amounts and statuses shifted in time (only the yyyymmdd part of the numbers moves with it).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from core.settings import get_settings
from crm.models import Base, Booking, Business, Complaint, Customer, FaqEntry, Order, ServiceDesk, Store
from crm.numbers import BOOKING_PREFIX, ORDER_PREFIX, TICKET_PREFIX, allocate_numbers, format_number
from crm.seed.bookings import BookingFactory
from crm.seed.clock import SeedClock
from crm.seed.complaints import ComplaintFactory
from crm.seed.config import SeedData, load_seed_data
from crm.seed.customers import CENT, CustomerDraft, make_customers
from crm.seed.orders import OrderFactory
from crm.seed.tenant import TenantRefs, seed_service_desk, seed_tenant
from crm.services.accounts import seed_demo_accounts
from crm.services.bookings.policy import get_booking_policy
from crm.services.tiers import override_tier, recompute_tiers

RowT = TypeVar("RowT", bound=Base)
TIER_ORDER = ("lead", "iron", "gold", "platinum")


@dataclass(frozen=True)
class SeedReport:
    anchor: date | None
    already_seeded: bool
    stores: int
    customers: int
    orders: int
    bookings: int
    complaints: int
    faq_entries: int

    def summary(self) -> str:
        counts = (
            f"{self.stores} stores, {self.customers} customers, {self.orders} orders, "
            f"{self.bookings} bookings, {self.complaints} complaints, {self.faq_entries} FAQ entries"
        )
        if self.already_seeded:
            return f"CRM database already seeded ({counts}); nothing to do"
        return f"Seeded CRM database with anchor date {self.anchor}: {counts}"


def default_anchor() -> date:
    """Today in the business timezone."""
    return datetime.now(ZoneInfo(get_settings().timezone)).date()


def is_seeded(session: Session) -> bool:
    """True once the tenant exists; seeding runs in one transaction, so there is no half-seeded state."""
    return bool(session.scalar(select(func.count()).select_from(Business)))


def _report(session: Session, anchor: date | None, already_seeded: bool) -> SeedReport:
    def count(model: type[Base]) -> int:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)

    return SeedReport(
        anchor=anchor,
        already_seeded=already_seeded,
        stores=count(Store),
        customers=count(Customer),
        orders=count(Order),
        bookings=count(Booking),
        complaints=count(Complaint),
        faq_entries=count(FaqEntry),
    )


def seed(session: Session, *, anchor: date | None = None, data: SeedData | None = None) -> SeedReport:
    """Fill an empty, migrated CRM database; on an already seeded one do nothing. Flushes, never commits."""
    if is_seeded(session):
        _complete_handoff_data(session, data or load_seed_data())
        return _report(session, None, already_seeded=True)
    data = data or load_seed_data()
    config = data.generator
    clock = SeedClock(anchor or default_anchor(), ZoneInfo(get_settings().timezone))
    rng = random.Random(config.random_seed)

    refs = seed_tenant(session, data, opened_at=clock.now - timedelta(days=2000))
    drafts = make_customers(rng, config, clock)
    session.add_all(draft.customer for draft in drafts)
    session.flush()

    order_factory = OrderFactory(rng, config, refs, clock)
    plans = order_factory.demo_plans(drafts) + order_factory.random_plans(drafts)
    orders = _numbered(session, [order_factory.build(plan) for plan in plans], ORDER_PREFIX, clock, _placed_at)
    session.add_all(orders)
    session.flush()
    _finalize_customers(rng, drafts, orders, refs, clock)
    session.flush()

    hotel = get_booking_policy().business("hotel")
    if hotel.check_in_time is None or hotel.check_out_time is None:
        raise ValueError("policy/bookings.yml: the hotel needs check_in_time and check_out_time")
    booking_factory = BookingFactory(
        rng, config, refs, clock, check_in=hotel.check_in_time, check_out=hotel.check_out_time
    )
    bookings = booking_factory.demo_bookings(drafts) + booking_factory.random_bookings(drafts)
    bookings = _numbered(session, bookings, BOOKING_PREFIX, clock, _created_at)
    session.add_all(bookings)
    session.flush()

    used_mobiles = {draft.customer.mobile for draft in drafts}
    complaint_factory = ComplaintFactory(rng, config, refs, clock)
    complaints = complaint_factory.random_complaints(drafts, orders, bookings, used_mobiles)
    complaints = _numbered(session, complaints, TICKET_PREFIX, clock, _created_at)
    session.add_all(complaints)
    session.flush()

    recompute_tiers(session, now=clock.now, changed_by="seed")
    _check_demo_tiers(drafts)
    _override_tiers(session, random.Random(config.random_seed), drafts, config.counts.tier_overrides, clock)
    _seed_demo_accounts(session, data)
    return _report(session, clock.anchor, already_seeded=False)


def _seed_demo_accounts(session: Session, data: SeedData) -> None:
    if get_settings().app_env == "development":
        seed_demo_accounts(session, staff=[(staff.username, staff.name, staff.role) for staff in data.staff])


def _complete_handoff_data(session: Session, data: SeedData) -> None:
    """A database seeded before the handoff migration gets its service desk, tiers and demo logins."""
    if session.scalar(select(func.count()).select_from(ServiceDesk)) == 0:
        seed_service_desk(session, data, at=datetime.now(ZoneInfo(get_settings().timezone)))
    if session.scalar(select(func.count()).select_from(Customer).where(Customer.tier_computed_at.is_(None))):
        recompute_tiers(session, changed_by="seed")
    _seed_demo_accounts(session, data)


def seed_demo_tenant(session: Session, *, anchor: date | None = None) -> bool:
    """Seed the demo tenant if the database is empty; True if it seeded, False if data was already there."""
    return not seed(session, anchor=anchor).already_seeded


def _placed_at(order: Order) -> datetime:
    return order.placed_at


def _created_at(row: Booking | Complaint) -> datetime:
    return row.created_at


def _numbered(
    session: Session, rows: Sequence[RowT], prefix: str, clock: SeedClock, moment: Callable[[RowT], datetime]
) -> list[RowT]:
    """Sort rows by time and give each its DD/YY/TS number, reserving the values in number_sequence."""
    ordered = sorted(rows, key=moment)  # stable: ties keep generation order
    by_day: dict[date, list[RowT]] = defaultdict(list)
    for row in ordered:
        by_day[clock.local_date(moment(row))].append(row)
    attribute = {
        ORDER_PREFIX: "order_number",
        BOOKING_PREFIX: "booking_number",
        TICKET_PREFIX: "ticket_number",
    }[prefix]
    for day in sorted(by_day):
        day_rows = by_day[day]
        day_text = day.strftime("%Y%m%d")
        for row, value in zip(day_rows, allocate_numbers(session, prefix, day_text, len(day_rows)), strict=True):
            setattr(row, attribute, format_number(prefix, day_text, value))
    return ordered


def _finalize_customers(
    rng: random.Random, drafts: list[CustomerDraft], orders: list[Order], refs: TenantRefs, clock: SeedClock
) -> None:
    """Lifetime spend = historic + delivered orders; tier, points and last visit follow from it."""
    by_customer: dict[int, list[Order]] = defaultdict(list)
    for order in orders:
        by_customer[order.customer_id].append(order)
    for draft in drafts:
        customer = draft.customer
        own = by_customer[customer.id]
        delivered = sum((order.amount for order in own if order.status == "delivered"), Decimal("0"))
        spend = (draft.historic_spend + delivered).quantize(CENT)
        customer.lifetime_spend = spend
        # Points were earned at the rate of the tier the lifetime spend reached (tiers.yml thresholds).
        points_per_yuan = refs.tier_data(refs.tier_for_spend(float(spend))).points_per_yuan
        customer.points = int(spend * points_per_yuan * Decimal(str(round(rng.uniform(0.3, 1.0), 2))))
        if own:
            first = min(order.placed_at for order in own)
            customer.created_at = min(customer.created_at, first - timedelta(days=rng.uniform(1, 60)))
            customer.last_visit_at = max(order.placed_at for order in own)
        elif spend > 0:
            customer.last_visit_at = clock.now - timedelta(days=rng.uniform(30, 400))
        customer.updated_at = max(customer.created_at, customer.last_visit_at or customer.created_at)
        # Keep our updated_at in the UPDATE even when unchanged, or onupdate would stamp the real clock.
        flag_modified(customer, "updated_at")


def _check_demo_tiers(drafts: list[CustomerDraft]) -> None:
    for draft in drafts:
        if draft.demo is not None and draft.customer.tier != draft.demo.expected_tier:
            raise ValueError(
                f"demo customer {draft.demo.web_user_id} computes as {draft.customer.tier} "
                f"({draft.customer.tier_reason}), expected {draft.demo.expected_tier}; "
                "adjust its orders in generator.yml"
            )


def _override_tiers(
    session: Session, rng: random.Random, drafts: list[CustomerDraft], count: int, clock: SeedClock
) -> None:
    """A few manual upgrades (goodwill after a complaint): one tier above the computed one, recorded."""
    candidates = [draft.customer for draft in drafts if draft.demo is None and draft.customer.tier != "platinum"]
    for customer in rng.sample(candidates, k=min(count, len(candidates))):
        override_tier(
            session,
            customer_id=customer.id,
            tier=TIER_ORDER[TIER_ORDER.index(customer.tier) + 1],  # type: ignore[arg-type]
            reason="goodwill upgrade after a complaint",
            changed_by="seed",
            now=clock.now,
        )
