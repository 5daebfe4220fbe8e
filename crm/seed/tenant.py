"""Seed the tenant: businesses, stores, services, products, tier service levels, agents and FAQ answers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from crm.models import Agent, Business, FaqEntry, Product, Service, ServiceDesk, Store, TierServiceLevel
from crm.seed.config import SeedData, TierData, expand_hours


@dataclass
class TenantRefs:
    """The seeded tenant rows, indexed for the generators."""

    businesses: dict[str, Business] = field(default_factory=dict)
    stores: list[Store] = field(default_factory=list)
    stores_by_business: dict[str, list[Store]] = field(default_factory=lambda: defaultdict(list))
    services: dict[str, list[Service]] = field(default_factory=lambda: defaultdict(list))
    products: list[Product] = field(default_factory=list)
    agents: list[Agent] = field(default_factory=list)
    tiers: list[TierData] = field(default_factory=list)  # highest threshold first

    def service(self, business_code: str, code: str) -> Service:
        return next(service for service in self.services[business_code] if service.code == code)

    def services_in(self, business_code: str, *categories: str) -> list[Service]:
        return [service for service in self.services[business_code] if service.category in categories]

    def business_of(self, store: Store) -> str:
        return next(code for code, stores in self.stores_by_business.items() if store in stores)

    def tier_for_spend(self, spend: float) -> str:
        return next(tier.tier for tier in self.tiers if spend >= float(tier.min_lifetime_spend))

    def tier_data(self, tier: str) -> TierData:
        return next(data for data in self.tiers if data.tier == tier)


def seed_tenant(session: Session, data: SeedData, *, opened_at: datetime) -> TenantRefs:
    """Insert the tenant rows from YAML, all stamped `opened_at`."""
    stamp = {"created_at": opened_at, "updated_at": opened_at}
    refs = TenantRefs(tiers=sorted(data.tiers, key=lambda tier: tier.min_lifetime_spend, reverse=True))
    for tier in data.tiers:
        session.add(
            TierServiceLevel(
                **tier.model_dump(exclude={"points_per_yuan"}),
                **stamp,
            )
        )
    for business_data in data.tenant.businesses:
        business = Business(
            code=business_data.code,
            name_zh=business_data.name_zh,
            description_zh=business_data.description_zh,
            **stamp,
        )
        session.add(business)
        refs.businesses[business.code] = business
        for service_data in business_data.services:
            service = Service(business=business, **service_data.model_dump(), **stamp)
            session.add(service)
            refs.services[business.code].append(service)
    for store_data in data.stores:
        business_data = data.business(store_data.business)
        store = Store(
            business=refs.businesses[store_data.business],
            code=store_data.code,
            name=store_data.name,
            city=store_data.city,
            district=store_data.district,
            address=store_data.address,
            phone=store_data.phone,
            opening_hours=expand_hours(store_data.hours or business_data.hours),
            hours_text_zh=store_data.hours_text_zh or business_data.hours_text_zh,
            slot_minutes=store_data.slot_minutes or business_data.slot_minutes,
            capacity_per_slot=store_data.capacity_per_slot or business_data.capacity_per_slot,
            latitude=store_data.latitude,
            longitude=store_data.longitude,
            features=store_data.features or None,
            **stamp,
        )
        session.add(store)
        refs.stores.append(store)
        refs.stores_by_business[store_data.business].append(store)
    session.flush()
    menswear = refs.businesses["menswear"]
    for product_data in data.products:
        product = Product(business_id=menswear.id, **product_data.model_dump(), **stamp)
        session.add(product)
        refs.products.append(product)
    seed_service_desk(session, data, at=opened_at)
    for agent_data in data.agents:
        agent = Agent(**agent_data.model_dump(), **stamp)
        session.add(agent)
        refs.agents.append(agent)
    session.flush()
    _seed_faq(session, data, refs, stamp)
    return refs


def seed_service_desk(session: Session, data: SeedData, *, at: datetime) -> None:
    """The customer-service desk: hotlines and agents' service hours from the tenant's `group` block."""
    group = data.tenant.group
    session.add(
        ServiceDesk(
            hotline=group.hotline,
            complaint_hotline=group.complaint_hotline,
            service_hours=expand_hours(group.service_hours),
            service_hours_text_zh=group.hotline_hours_zh,
            created_at=at,
            updated_at=at,
        )
    )
    session.flush()


def _seed_faq(session: Session, data: SeedData, refs: TenantRefs, stamp: dict[str, datetime]) -> None:
    stores_by_code = {store.code: store for store in refs.stores}
    for entry in data.faq.entries:
        store = stores_by_code[entry.store] if entry.store is not None else None
        session.add(
            FaqEntry(
                key=entry.key,
                business_code=entry.business or (refs.business_of(store) if store is not None else None),
                store_id=store.id if store is not None else None,
                question_zh=entry.question_zh,
                answer_zh=entry.answer_zh,
                confidence_threshold=entry.confidence_threshold,
                **stamp,
            )
        )
    for template in data.faq.store_templates:
        for store in refs.stores:
            values = {
                "store_name": store.name,
                "hours_text_zh": store.hours_text_zh,
                "city": store.city,
                "district": store.district,
                "address": store.address,
                "phone": store.phone,
                # text features of the store (parking_zh, breakfast_zh...) can be used by templates too
                **{name: value for name, value in (store.features or {}).items() if isinstance(value, str)},
            }
            try:
                question_zh, answer_zh = template.question_zh.format(**values), template.answer_zh.format(**values)
            except KeyError:  # the store lacks a feature the template needs: its business/general answer applies
                continue
            session.add(
                FaqEntry(
                    key=template.key,
                    business_code=refs.business_of(store),
                    store_id=store.id,
                    question_zh=question_zh,
                    answer_zh=answer_zh,
                    **stamp,
                )
            )
    session.flush()
