"""Read services over the seeded database: customers, orders, stores and FAQ answers."""

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Customer, FaqEntry, Order
from crm.services import customers, faq, orders, stores


def _demo(session: Session, tier: str) -> Customer:
    return session.scalars(select(Customer).where(Customer.web_user_id == f"demo-{tier}")).one()


@pytest.mark.parametrize(
    ("channel", "channel_user_id", "tier", "label"),
    [
        ("web", "demo-platinum", "platinum", "铂金"),
        ("wechat", "o-demo-gold", "gold", "黄金"),
        ("web", "demo-iron", "iron", "钢铁"),
        ("wechat", "o-demo-lead", "lead", "重铅"),
    ],
)
def test_demo_customers_are_found_by_channel_identity(
    seeded_session: Session, channel: str, channel_user_id: str, tier: str, label: str
) -> None:
    customer = customers.find_customer_by_channel_identity(
        seeded_session, channel=channel, channel_user_id=channel_user_id
    )
    assert customer is not None
    assert (customer.tier, customer.tier_label_zh) == (tier, label)
    assert customer.masked_mobile[3:7] == "****"


def test_rest_channel_and_unknown_users_have_no_customer(seeded_session: Session) -> None:
    assert (
        customers.find_customer_by_channel_identity(seeded_session, channel="rest", channel_user_id="demo-gold") is None
    )
    assert customers.find_customer_by_channel_identity(seeded_session, channel="web", channel_user_id="nobody") is None
    assert customers.get_customer(seeded_session, customer_id=10**6) is None


def test_tier_override_wins(seeded_session: Session) -> None:
    lead = _demo(seeded_session, "lead")
    lead.tier_override = "gold"
    seeded_session.flush()
    customer = customers.get_customer(seeded_session, customer_id=lead.id)
    assert customer is not None and customer.tier == "gold"
    level = customers.get_tier_service_level(seeded_session, tier="platinum")
    slowest = customers.get_tier_service_level(seeded_session, tier="lead")
    assert level is not None and slowest is not None
    assert level.queue_priority > slowest.queue_priority
    assert level.first_response_seconds < slowest.first_response_seconds


def test_find_customer_by_mobile(seeded_session: Session) -> None:
    found = customers.find_customer_by_mobile(seeded_session, mobile="13885120001")
    assert found is not None and found.name == "林浩然"


def test_order_lookup_includes_items_and_timeline(seeded_session: Session) -> None:
    number = seeded_session.scalars(
        select(Order.order_number).where(
            Order.customer_id == _demo(seeded_session, "platinum").id, Order.status == "in_transit"
        )
    ).one()
    order = orders.get_order_by_number(seeded_session, order_number=number.lower())
    assert order is not None and order.order_number == number
    assert order.status == "in_transit" and order.timeline[-1].status == "in_transit"
    assert [event.status for event in order.timeline][:3] == ["pending_payment", "paid", "shipped"]
    assert order.items and order.carrier and order.tracking_number
    assert order.store_name is None and order.business_code == "menswear"
    assert order.masked_recipient_name == "林*然" and order.masked_recipient_mobile == "138****0001"
    assert orders.get_order_by_number(seeded_session, order_number="DD209901010001") is None


def test_customer_orders_are_newest_first(seeded_session: Session) -> None:
    gold = _demo(seeded_session, "gold")
    listed = orders.list_orders_for_customer(seeded_session, customer_id=gold.id, limit=10)
    assert len(listed) == 3
    assert [order.placed_at for order in listed] == sorted((order.placed_at for order in listed), reverse=True)
    assert orders.list_orders_for_customer(seeded_session, customer_id=gold.id, limit=1) == listed[:1]


def test_store_search_by_name_fragment(seeded_session: Session) -> None:
    found = stores.find_stores(seeded_session, name_fragment="花果园")
    assert {store.code for store in found} == {"gy-hgy-car", "gy-hgy-suit"}
    assert all(store.city == "贵阳" for store in found)
    only_car = stores.find_stores(seeded_session, name_fragment="花果园", business_code="car_care")
    assert [store.code for store in only_car] == ["gy-hgy-car"]
    assert stores.find_stores(seeded_session, name_fragment="  ") == []


def test_list_stores_by_city_and_business(seeded_session: Session) -> None:
    chengdu = stores.list_stores(seeded_session, city="成都")
    hotels = stores.list_stores(seeded_session, business_code="hotel")
    assert chengdu and all(store.city == "成都" for store in chengdu)
    assert {store.city for store in hotels} == {"贵阳", "成都"}
    store = stores.get_store(seeded_session, code="cd-jj-food")
    assert store is not None and store.opening_hours["mon"] == [["11:00", "14:00"], ["17:00", "22:00"]]


@pytest.mark.parametrize(
    ("business_code", "store_code", "scope"),
    [
        (None, None, "general"),
        ("car_care", None, "business"),
        (None, "gy-hgy-car", "store"),
        ("car_care", "gy-hgy-car", "store"),
    ],
)
def test_faq_most_specific_answer_wins(
    seeded_session: Session, business_code: str | None, store_code: str | None, scope: str
) -> None:
    answer = faq.get_answer(seeded_session, key="business_hours", business_code=business_code, store_code=store_code)
    assert answer is not None and answer.scope == scope
    if scope == "store":
        assert answer.store_code == "gy-hgy-car" and "花果园" in answer.answer_zh


def test_faq_store_implies_its_business(seeded_session: Session) -> None:
    answer = faq.get_answer(seeded_session, key="wifi", store_code="gy-gsh-hotel")
    assert answer is not None and (answer.scope, answer.business_code) == ("business", "hotel")
    general = faq.get_answer(seeded_session, key="wifi", store_code="gy-hgy-car")
    assert general is not None and general.scope == "general"


def test_faq_inactive_override_falls_back_and_unknown_key_is_none(seeded_session: Session) -> None:
    override = seeded_session.scalars(
        select(FaqEntry).where(FaqEntry.key == "hotel_breakfast", FaqEntry.store_id.is_not(None))
    ).one()
    before = faq.get_answer(seeded_session, key="hotel_breakfast", store_code="cd-tfs-hotel")
    override.active = False
    seeded_session.flush()
    after = faq.get_answer(seeded_session, key="hotel_breakfast", store_code="cd-tfs-hotel")
    assert before is not None and before.scope == "store"
    assert after is not None and after.scope == "general"
    assert faq.get_answer(seeded_session, key="no_such_key") is None
    assert "wifi" in faq.list_keys(seeded_session)
