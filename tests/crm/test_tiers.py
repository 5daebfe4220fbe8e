"""Tiers on a small hand-made data set with known answers, the pure rule and the recompute in the CRM."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm.models import (
    Booking,
    Business,
    Complaint,
    Customer,
    Order,
    ServiceDesk,
    StaffAccount,
    Store,
    TierChange,
    TierServiceLevel,
)
from crm.seed import seed
from crm.services.tiers import (
    CustomerFigures,
    TierPolicy,
    assign_tiers,
    load_tier_policy,
    override_tier,
    recompute_tiers,
    tier_history,
)

POLICY = load_tier_policy()
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=timezone.utc)


def figures(customer_id: int, spend: int, refunds: int = 0, complaints: int = 0, no_shows: int = 0) -> CustomerFigures:
    return CustomerFigures(customer_id, Decimal(spend), Decimal(refunds), complaints, no_shows)


def test_eighty_twenty_split_on_a_known_data_set() -> None:
    # Total spend 10000; share of spend ranked above each: 1 0%, 2 40% (both below 50%: platinum),
    # 3 60% and 4 75% (below 80%: gold), 5 85% and 6 95% (iron).
    data = [figures(1, 4000), figures(2, 2000), figures(3, 1500), figures(4, 1000), figures(5, 1000), figures(6, 500)]
    tiers = {customer_id: assignment.tier for customer_id, assignment in assign_tiers(data, POLICY).items()}
    assert tiers == {1: "platinum", 2: "platinum", 3: "gold", 4: "gold", 5: "iron", 6: "iron"}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (figures(7, 0), "iron"),  # no spend and no cost: volume, not lead
        (figures(7, 0, refunds=100), "lead"),  # only costs
        (figures(7, 1000, refunds=499), None),  # cost 49.9% of spend: ranked
        (figures(7, 1000, refunds=100, complaints=2), "lead"),  # 100 + 2 * 200 = 500 = 50%
        (figures(7, 1000, no_shows=4), "lead"),  # 4 * 150 = 600
        (figures(7, 100000, refunds=20000, complaints=10), None),  # big spender, cost 22%: ranked (platinum)
    ],
)
def test_lead_is_a_rule_on_cost_against_spend(item: CustomerFigures, expected: str | None) -> None:
    others = [figures(1, 4000), figures(2, 2000)]
    assignment = assign_tiers([*others, item], POLICY)[7]
    if expected is None:
        assert assignment.tier != "lead"
    else:
        assert assignment.tier == expected
    assert assignment.reason


def test_thresholds_come_from_the_policy() -> None:
    data = [figures(1, 4000), figures(2, 2000), figures(3, 1500), figures(4, 1000)]
    stricter = TierPolicy.model_validate(
        {**POLICY.model_dump(), "platinum_spend_share": Decimal("0.3"), "top_spend_share": Decimal("0.6")}
    )
    tiers = {customer_id: assignment.tier for customer_id, assignment in assign_tiers(data, stricter).items()}
    assert tiers == {1: "platinum", 2: "gold", 3: "iron", 4: "iron"}


def test_reason_explains_rank_and_spend() -> None:
    reason = assign_tiers([figures(1, 4000), figures(2, 1000)], POLICY)[1].reason
    assert "4,000.00 CNY" in reason and "rank 1 of 2" in reason


# -- in the CRM ------------------------------------------------------------------------------------------


def _tenant(session: Session) -> tuple[Business, Store]:
    for tier, priority in (("platinum", 40), ("gold", 30), ("iron", 20), ("lead", 10)):
        session.add(
            TierServiceLevel(
                tier=tier,
                label_zh=tier,
                queue_priority=priority,
                first_response_seconds=60,
                complaint_response_hours_normal=24,
                complaint_response_hours_high=4,
                min_lifetime_spend=Decimal("0"),
            )
        )
    business = Business(code="car_care", name_zh="洗车")
    session.add(business)
    session.flush()
    store = Store(
        business_id=business.id,
        code="s1",
        name="店",
        city="贵阳",
        district="南明区",
        address="路",
        phone="1",
        opening_hours={},
        hours_text_zh="",
        slot_minutes=30,
        capacity_per_slot=1,
    )
    session.add(store)
    session.flush()
    return business, store


def _customer(session: Session, index: int) -> Customer:
    customer = Customer(name=f"客户{index}", mobile=f"1380000000{index}", tier="iron")
    session.add(customer)
    session.flush()
    return customer


def _order(session: Session, customer: Customer, business: Business, amount: int, status: str, days_ago: int) -> None:
    session.add(
        Order(
            order_number=f"DD{customer.id:04d}{amount:06d}{days_ago:04d}"[:14],
            customer_id=customer.id,
            business_id=business.id,
            amount=Decimal(amount),
            status=status,
            placed_at=NOW - timedelta(days=days_ago),
        )
    )


def test_recompute_stores_tiers_and_records_each_change(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        business, _ = _tenant(session)
        big, mid, small, costly, old = (_customer(session, index) for index in range(5))
        _order(session, big, business, 6000, "delivered", 10)
        _order(session, mid, business, 3000, "paid", 20)
        _order(session, small, business, 1000, "delivered", 30)
        _order(session, costly, business, 800, "refunded", 40)
        _order(session, old, business, 90000, "delivered", 400)  # outside the 12-month window
        _order(session, small, business, 5000, "cancelled", 5)  # never paid
        report = recompute_tiers(session, now=NOW)
        assert report.changed == 5
        tiers = {customer.name: customer.tier for customer in session.scalars(select(Customer))}
        assert tiers == {"客户0": "platinum", "客户1": "gold", "客户2": "iron", "客户3": "lead", "客户4": "iron"}
        assert big.trailing_spend == Decimal("6000")
        assert "no paid spend" in str(old.tier_reason)

        # Nothing changed: nothing recorded. Then the mid customer spends more and moves up.
        assert recompute_tiers(session, now=NOW).changed == 0
        _order(session, mid, business, 9000, "delivered", 1)
        report = recompute_tiers(session, now=NOW + timedelta(days=1))
        assert report.changed >= 1
        history = tier_history(session, customer_id=mid.id)
        assert [(change.old_tier, change.new_tier) for change in history] == [(None, "gold"), ("gold", "platinum")]
        assert history[-1].changed_by == "recompute" and history[-1].reason


def test_complaints_and_no_shows_count_as_cost(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        business, store = _tenant(session)
        steady, grumpy = _customer(session, 0), _customer(session, 1)
        _order(session, steady, business, 2000, "delivered", 10)
        _order(session, grumpy, business, 700, "delivered", 10)
        for number in range(2):
            session.add(
                Complaint(
                    ticket_number=f"TS2026112000{number}",
                    customer_id=grumpy.id,
                    category="other",
                    description="x",
                    due_at=NOW,
                    created_at=NOW - timedelta(days=3),
                )
            )
        session.add(
            Booking(
                booking_number="YY202611200001",
                customer_id=grumpy.id,
                business_id=business.id,
                store_id=store.id,
                start_at=NOW - timedelta(days=2),
                end_at=NOW - timedelta(days=2) + timedelta(hours=1),
                status="no_show",
            )
        )
        recompute_tiers(session, now=NOW)
        assert grumpy.tier == "lead"  # 2 * 200 + 150 = 550 >= 50% of 700
        assert "2 complaints, 1 no-shows" in str(grumpy.tier_reason)


def test_an_override_needs_a_reason_wins_and_is_recorded(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        business, _ = _tenant(session)
        customer = _customer(session, 0)
        _order(session, customer, business, 500, "delivered", 10)
        recompute_tiers(session, now=NOW)
        with pytest.raises(ValueError, match="reason"):
            override_tier(session, customer_id=customer.id, tier="gold", reason="  ", changed_by="ops")
        override_tier(
            session, customer_id=customer.id, tier="gold", reason="VIP of a partner company", changed_by="ops"
        )
        assert customer.effective_tier == "gold" and customer.tier_override_reason == "VIP of a partner company"
        recompute_tiers(session, now=NOW)
        assert customer.effective_tier == "gold"  # the recompute keeps the override
        override_tier(session, customer_id=customer.id, tier=None, reason="partnership ended", changed_by="ops")
        assert customer.effective_tier == customer.tier
        kinds = [change.kind for change in session.scalars(select(TierChange).order_by(TierChange.id))]
        assert kinds == ["computed", "override", "override_cleared"]


def test_seeding_a_database_from_before_the_handoff_completes_it(blank_sessionmaker: sessionmaker[Session]) -> None:
    with blank_sessionmaker.begin() as session:
        seed(session, anchor=date(2026, 11, 20))
    with blank_sessionmaker.begin() as session:  # what a database seeded before migration 0003 looks like
        session.execute(delete(StaffAccount))
        session.execute(delete(ServiceDesk))
        session.execute(delete(TierChange))
        session.execute(update(Customer).values(tier_computed_at=None, tier_reason=None))
    with blank_sessionmaker.begin() as session:
        assert seed(session).already_seeded
        assert session.scalar(select(func.count()).select_from(ServiceDesk)) == 1
        assert session.scalar(select(func.count()).select_from(StaffAccount)) == 7
        assert session.scalar(select(func.count()).select_from(Customer).where(Customer.tier_reason.is_(None))) == 0
