"""Churn on a small hand-made data set: paid orders and paid visits count, free visits do not."""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Booking, Customer, Service
from crm.services.churn import ChurnPolicy, churn_status, describe_churn
from crm.services.tiers import load_tier_policy, recompute_tiers
from tests.crm.test_tiers import NOW, _customer, _order, _tenant

POLICY = load_tier_policy().churn


@pytest.mark.parametrize(
    ("days_ago", "expected"),
    [
        (None, "no_paid_activity"),
        (0, "active"),
        (149, "active"),
        (150, "at_risk"),
        (179, "at_risk"),
        (180, "churned"),
        (400, "churned"),
    ],
)
def test_status_by_days_since_the_last_paid_activity(days_ago: int | None, expected: str) -> None:
    last = NOW - timedelta(days=days_ago) if days_ago is not None else None
    assert churn_status(last, now=NOW, policy=POLICY) == expected


def test_the_policy_must_put_at_risk_before_churned() -> None:
    with pytest.raises(ValueError, match="at_risk_after_days"):
        ChurnPolicy(at_risk_after_days=200, churned_after_days=180)


def _visit(session: Session, customer: Customer, service: Service, store_id: int, days_ago: int, number: int) -> None:
    start = NOW - timedelta(days=days_ago)
    session.add(
        Booking(
            booking_number=f"YY2026112{number:05d}",
            customer_id=customer.id,
            business_id=service.business_id,
            store_id=store_id,
            service_id=service.id,
            start_at=start,
            end_at=start + timedelta(hours=1),
            status="completed",
        )
    )


def test_free_visits_do_not_count_and_a_returning_customer_is_won_back(
    blank_sessionmaker: sessionmaker[Session],
) -> None:
    with blank_sessionmaker.begin() as session:
        business, store = _tenant(session)
        paid = Service(business_id=business.id, code="wash", name="洗车", category="wash", price=Decimal("35"))
        free = Service(business_id=business.id, code="check", name="免费检测", category="check", price=Decimal("0"))
        session.add_all([paid, free])
        session.flush()
        loyal, drifting, freeloader, returning = (_customer(session, index) for index in range(4))
        _order(session, loyal, business, 300, "delivered", 20)
        _visit(session, drifting, paid, store.id, 160, 1)  # paid visit 160 days ago: at risk
        _order(session, freeloader, business, 300, "delivered", 200)
        _visit(session, freeloader, free, store.id, 3, 2)  # a free inspection last week does not count
        _order(session, returning, business, 300, "delivered", 300)
        _order(session, returning, business, 100, "cancelled", 1)  # not paid: still churned
        recompute_tiers(session, now=NOW)
        statuses = {customer.name: customer.churn_status for customer in (loyal, drifting, freeloader, returning)}
        assert statuses == {"客户0": "active", "客户1": "at_risk", "客户2": "churned", "客户3": "churned"}
        card = describe_churn(freeloader, now=NOW, policy=POLICY)
        assert card.churned and not card.at_risk and card.days_since_paid_activity == 200
        assert returning.won_back_at is None

        later = NOW + timedelta(days=2)
        _order(session, returning, business, 500, "paid", -1)  # pays again (placed a day after NOW)
        report = recompute_tiers(session, now=later)
        assert report.won_back == 1
        assert returning.churn_status == "active"
        assert returning.won_back_at == NOW + timedelta(days=1)
        assert describe_churn(returning, now=later, policy=POLICY).won_back_at == NOW + timedelta(days=1)
