"""Generate orders with items and a consistent status timeline (order_event rows)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

from crm.enums import is_valid_order_timeline
from crm.models import Order, OrderEvent, OrderItem, Store
from crm.seed.clock import SeedClock
from crm.seed.config import DemoOrderItemData, GeneratorData
from crm.seed.customers import CustomerDraft, make_name
from crm.seed.tenant import TenantRefs

SHIPPING_ONLY = frozenset({"shipped", "in_transit", "out_for_delivery"})

# Minutes between two consecutive timeline steps: (low, high).
STEP_MINUTES: dict[tuple[str, str], tuple[int, int]] = {
    ("pending_payment", "paid"): (1, 30),
    ("pending_payment", "cancelled"): (5, 60),
    ("paid", "shipped"): (4 * 60, 30 * 60),
    ("paid", "delivered"): (2 * 60, 7 * 24 * 60),
    ("paid", "cancelled"): (60, 48 * 60),
    ("paid", "refund_requested"): (60, 48 * 60),
    ("shipped", "in_transit"): (3 * 60, 10 * 60),
    ("in_transit", "in_transit"): (8 * 60, 30 * 60),
    ("in_transit", "out_for_delivery"): (6 * 60, 20 * 60),
    ("out_for_delivery", "delivered"): (60, 6 * 60),
    ("delivered", "refund_requested"): (24 * 60, 6 * 24 * 60),
    ("refund_requested", "refunded"): (24 * 60, 3 * 24 * 60),
}


@dataclass
class OrderPlan:
    """What to generate for one order; `age_days` bounds how long ago its latest event happened."""

    draft: CustomerDraft
    business: str
    status: str
    age_days: tuple[float, float]
    items: list[DemoOrderItemData] | None = None


def timeline_for(status: str, *, shipping: bool, rng: random.Random) -> list[str]:
    """The statuses an order went through to reach `status` (valid per ORDER_TRANSITIONS)."""
    transit = ["shipped", "in_transit", "in_transit", "out_for_delivery"]
    fulfilled = ["pending_payment", "paid", *(transit if shipping else []), "delivered"]
    paths: dict[str, list[str]] = {
        "pending_payment": ["pending_payment"],
        "paid": ["pending_payment", "paid"],
        "shipped": ["pending_payment", "paid", "shipped"],
        "in_transit": ["pending_payment", "paid", "shipped", "in_transit", "in_transit"],
        "out_for_delivery": ["pending_payment", "paid", *transit],
        "delivered": fulfilled,
        "cancelled": ["pending_payment", "cancelled"]
        if rng.random() < 0.6
        else ["pending_payment", "paid", "cancelled"],
        "refund_requested": [*fulfilled, "refund_requested"]
        if rng.random() < 0.6
        else ["pending_payment", "paid", "refund_requested"],
    }
    paths["refunded"] = [*paths["refund_requested"], "refunded"]
    path = paths[status]
    if not is_valid_order_timeline(path):
        raise AssertionError(f"invalid seed timeline {path}")
    return path


class OrderFactory:
    def __init__(self, rng: random.Random, config: GeneratorData, refs: TenantRefs, clock: SeedClock) -> None:
        self.rng = rng
        self.config = config
        self.refs = refs
        self.clock = clock

    # -- plans -----------------------------------------------------------------------------------------

    def random_plans(self, drafts: list[CustomerDraft]) -> list[OrderPlan]:
        regular = [draft for draft in drafts if draft.demo is None]
        weights = [draft.order_weight for draft in regular]
        businesses = list(self.config.order_business_weights)
        business_weights = list(self.config.order_business_weights.values())
        plans = []
        for _ in range(self.config.counts.orders):
            draft = self.rng.choices(regular, weights)[0]
            business = self.rng.choices(businesses, business_weights)[0]
            status = self._status()
            age = self.config.order_status_age_days[status]  # type: ignore[index]
            plans.append(OrderPlan(draft, business, status, (float(age[0]), float(age[1]))))
        return plans

    def demo_plans(self, drafts: list[CustomerDraft]) -> list[OrderPlan]:
        return [
            OrderPlan(draft, order.business, order.status, (order.days_ago, order.days_ago + 0.5), order.items)
            for draft in drafts
            if draft.demo is not None
            for order in draft.demo.orders
        ]

    def _status(self) -> str:
        statuses = list(self.config.order_status_weights)
        return self.rng.choices(statuses, list(self.config.order_status_weights.values()))[0]

    # -- orders ----------------------------------------------------------------------------------------

    def build(self, plan: OrderPlan) -> Order:
        """One order for `plan`; shipping statuses of a store order are redrawn as store statuses."""
        rng = self.rng
        customer = plan.draft.customer
        online = plan.business == "menswear" and (
            plan.draft.demo is not None or rng.random() < self.config.menswear_online_share
        )
        status = plan.status
        while not online and status in SHIPPING_ONLY:
            status = self._status()
        path = timeline_for(status, shipping=online, rng=rng)
        steps = [rng.randint(*STEP_MINUTES[(before, after)]) for before, after in pairwise(path)]
        last_at = self.clock.days_before_now(rng, *plan.age_days)
        placed_at = last_at - timedelta(minutes=sum(steps))
        moments = [placed_at]
        for minutes in steps:
            moments.append(moments[-1] + timedelta(minutes=minutes))

        store = None if online else self._store(plan.business, customer.city)
        order = Order(
            customer_id=customer.id,
            business_id=self.refs.businesses[plan.business].id,
            store_id=store.id if store is not None else None,
            status=status,
            placed_at=placed_at,
            created_at=placed_at,
            updated_at=moments[-1],
        )
        order.items = self._items(plan.business, store)
        if plan.items is not None:
            # Drawn above anyway, so the random stream (and every generated row after it) stays the same.
            order.items = [self._fixed_item(plan.business, item) for item in plan.items]
        order.amount = sum((item.unit_price * item.quantity for item in order.items), Decimal("0"))
        if online:
            self._ship_to(order, plan.draft)
        carrier = self.rng.choices(self.config.carriers, [c.weight for c in self.config.carriers])[0]
        if "shipped" in path:
            order.carrier = carrier.name
            digits = "".join(str(rng.randrange(10)) for _ in range(carrier.digits))
            order.tracking_number = f"{carrier.tracking_prefix}{digits}"
        order.estimated_delivery_date = self._estimated_delivery(path, moments, online)
        order.events = [
            OrderEvent(status=step, note=self._note(step, index, path, order, online), occurred_at=moment)
            for index, (step, moment) in enumerate(zip(path, moments, strict=True))
        ]
        return order

    def _store(self, business: str, city: str | None) -> Store:
        stores = self.refs.stores_by_business[business]
        local = [store for store in stores if store.city == city]
        return self.rng.choice(local if local and self.rng.random() < 0.85 else stores)

    def _items(self, business: str, store: Store | None) -> list[OrderItem]:
        rng = self.rng
        if business == "menswear" and (store is None or rng.random() < 0.5):
            products = rng.sample(self.refs.products, k=rng.choices([1, 2, 3], [0.6, 0.3, 0.1])[0])
            return [
                OrderItem(
                    product_id=product.id,
                    name=product.name,
                    size=rng.choice(product.sizes or [None]),
                    quantity=1 if rng.random() < 0.9 else 2,
                    unit_price=product.price,
                )
                for product in products
            ]
        if business == "menswear":
            services = [rng.choice(self.refs.services_in("menswear", "tailoring"))]
        elif business == "car_care":
            pool = self.refs.services["car_care"]
            services = rng.sample(pool, k=1 if rng.random() < 0.75 else 2)
        elif business == "hotel":
            room = rng.choices(self.refs.services_in("hotel", "room"), [0.4, 0.3, 0.15, 0.15])[0]
            nights = rng.choices([1, 2, 3, 4], [0.5, 0.3, 0.15, 0.05])[0]
            return [OrderItem(service_id=room.id, name=room.name, quantity=nights, unit_price=room.price)]
        else:
            services = [rng.choices(self.refs.services_in("restaurant", "set_menu"), [0.45, 0.4, 0.15])[0]]
        return [
            OrderItem(service_id=service.id, name=service.name, quantity=1, unit_price=service.price)
            for service in services
        ]

    def _fixed_item(self, business: str, item: DemoOrderItemData) -> OrderItem:
        if item.sku is not None:
            product = next(product for product in self.refs.products if product.sku == item.sku)
            size = product.sizes[0] if product.sizes else None
            return OrderItem(
                product_id=product.id, name=product.name, size=size, quantity=item.quantity, unit_price=product.price
            )
        service = self.refs.service(business, str(item.service))
        return OrderItem(service_id=service.id, name=service.name, quantity=item.quantity, unit_price=service.price)

    def _ship_to(self, order: Order, draft: CustomerDraft) -> None:
        rng = self.rng
        customer = draft.customer
        city_name = customer.city if customer.city in self.config.addresses else "贵阳"
        city = self.config.city_addresses(city_name)
        district = rng.choice(list(city.districts))
        ranges = self.config.address_ranges()
        line = self.config.addresses["line_template"].format(
            street=rng.choice(city.districts[district]),
            building=rng.randint(*ranges["building_range"]),
            unit=rng.randint(*ranges["unit_range"]),
            floor=rng.randint(*ranges["room_floors"]),
            room=rng.randint(1, 4),
        )
        order.recipient_name = (
            customer.name if draft.demo is not None or rng.random() < 0.85 else make_name(rng, self.config, "female")
        )
        order.recipient_mobile = customer.mobile
        order.shipping_province = city.province
        order.shipping_city = city.city
        order.shipping_district = district
        order.shipping_address = line

    def _estimated_delivery(self, path: list[str], moments: list[datetime], online: bool) -> date | None:
        """Shipped orders: 2-4 days after shipping; paid, not yet shipped: 3-5 days after payment."""
        if not online:
            return None
        if "shipped" in path:
            base, days = moments[path.index("shipped")], self.rng.randint(2, 4)
        elif path[-1] == "paid":
            base, days = moments[path.index("paid")], self.rng.randint(3, 5)
        else:
            return None
        estimate = self.clock.local_date(base) + timedelta(days=days)
        in_flight = path[-1] in ("paid", "shipped", "in_transit", "out_for_delivery")
        return max(estimate, self.clock.anchor) if in_flight else estimate

    def _note(self, step: str, index: int, path: list[str], order: Order, online: bool) -> str:
        notes = self.config.order_event_notes
        if step == "delivered":
            key = "delivered_shipping" if online else "delivered_service"
        elif step == "in_transit":
            city = (order.shipping_city or "").removesuffix("市")
            hub = self.rng.choice(self.config.hubs.get(city, [self.config.origin_hub]))
            first_scan = path.index("in_transit") == index
            template = notes["in_transit"][0 if first_scan else 1]
            return template.format(origin_hub=self.config.origin_hub, hub=hub)
        else:
            key = step
        template = self.rng.choice(notes[key])
        return template.format(carrier=order.carrier or "", district=order.shipping_district or "")
