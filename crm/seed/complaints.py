"""Generate complaints in every status, with due dates from the customer's tier service level."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from crm.models import Agent, Booking, Complaint, Order
from crm.seed.clock import SeedClock
from crm.seed.config import GeneratorData
from crm.seed.customers import CustomerDraft, make_mobile
from crm.seed.tenant import TenantRefs

ORDER_CATEGORIES = frozenset({"product_quality", "delivery", "billing"})


class ComplaintFactory:
    def __init__(self, rng: random.Random, config: GeneratorData, refs: TenantRefs, clock: SeedClock) -> None:
        self.rng = rng
        self.config = config
        self.refs = refs
        self.clock = clock

    def random_complaints(
        self,
        drafts: list[CustomerDraft],
        orders: list[Order],
        bookings: list[Booking],
        used_mobiles: set[str],
    ) -> list[Complaint]:
        rng = self.rng
        regular = [draft for draft in drafts if draft.demo is None]
        categories = list(self.config.complaints)
        complaints = []
        for _ in range(self.config.counts.complaints):
            category = rng.choice(categories)
            template = rng.choice(self.config.complaints[category])
            business = self.refs.businesses[template.business]
            created = self.clock.days_before_now(rng, 0, 60 * rng.random() ** 2)  # skewed to recent
            draft = rng.choice(regular) if rng.random() < 0.9 else None
            customer = draft.customer if draft is not None else None
            tier = customer.effective_tier if customer is not None else "lead"
            severity = "high" if rng.random() < 0.25 else "normal"
            level = self.refs.tier_data(tier)
            hours = level.complaint_response_hours_high if severity == "high" else level.complaint_response_hours_normal
            city = customer.city if customer is not None else None
            stores = [s for s in self.refs.stores_by_business[business.code] if s.city == city]
            complaint = Complaint(
                customer_id=customer.id if customer is not None else None,
                contact_mobile=customer.mobile if customer is not None else make_mobile(rng, self.config, used_mobiles),
                business_id=business.id,
                store_id=rng.choice(stores).id if stores else None,
                category=category,
                severity=severity,
                description=template.text,
                due_at=created + timedelta(hours=hours),
                created_at=created,
            )
            if customer is not None:
                complaint.order_id, complaint.booking_id = self._related(
                    category, business.id, customer.id, created, orders, bookings
                )
            self._progress(complaint, business.code, created)
            complaints.append(complaint)
        return complaints

    def _related(
        self,
        category: str,
        business_id: int,
        customer_id: int,
        created: datetime,
        orders: list[Order],
        bookings: list[Booking],
    ) -> tuple[int | None, int | None]:
        if category in ORDER_CATEGORIES:
            candidates = [
                o
                for o in orders
                if o.customer_id == customer_id and o.business_id == business_id and o.placed_at < created
            ]
            return (max(candidates, key=lambda o: o.placed_at).id if candidates else None), None
        candidates_b = [
            b
            for b in bookings
            if b.customer_id == customer_id and b.business_id == business_id and b.start_at < created
        ]
        return None, (max(candidates_b, key=lambda b: b.start_at).id if candidates_b else None)

    def _progress(self, complaint: Complaint, business_code: str, created: datetime) -> None:
        rng = self.rng
        age_days = (self.clock.now - created) / timedelta(days=1)
        if age_days < 2:
            status = rng.choices(["open", "in_progress"], [0.6, 0.4])[0]
        elif age_days < 10:
            status = rng.choices(["in_progress", "resolved", "closed"], [0.3, 0.5, 0.2])[0]
        else:
            status = rng.choices(["resolved", "closed"], [0.3, 0.7])[0]
        complaint.status = status
        complaint.updated_at = created
        if status == "open":
            return
        complaint.handler_agent_id = self._agent(business_code).id
        complaint.last_update_note = rng.choice(self.config.complaint_status_notes[status])
        handled = created + (self.clock.now - created) * rng.uniform(0.1, 0.6)
        complaint.updated_at = handled
        if status in ("resolved", "closed"):
            complaint.resolved_at = handled

    def _agent(self, business_code: str) -> Agent:
        skilled = [agent for agent in self.refs.agents if agent.active and business_code in agent.skills]
        return self.rng.choice(skilled or self.refs.agents)
