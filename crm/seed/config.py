"""Typed view of the seed YAML files in crm/seed/data (validated on load)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crm.enums import WEEKDAYS, BusinessCode, ComplaintCategory, Gender, OrderStatus, StaffRole, Tier

DATA_DIR = Path(__file__).resolve().parent / "data"
_DAY_GROUPS = {"all": WEEKDAYS, "weekdays": WEEKDAYS[:5], "weekends": WEEKDAYS[5:]}

Hours = dict[str, list[list[str]]]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def expand_hours(spec: Hours) -> Hours:
    """{'weekdays': [...], 'sat': [...]} -> one entry per weekday, later keys overriding earlier ones."""
    weekly: Hours = {}
    for key, periods in spec.items():
        days = _DAY_GROUPS.get(key, (key,))
        for day in days:
            if day not in WEEKDAYS:
                raise ValueError(f"unknown day key {key!r}")
            weekly[day] = [list(period) for period in periods]
    missing = [day for day in WEEKDAYS if day not in weekly]
    if missing:
        raise ValueError(f"opening hours miss {missing}")
    return {day: weekly[day] for day in WEEKDAYS}


def join_lines(text: str) -> str:
    """Join a YAML block of Chinese text without inserting spaces between lines."""
    return "".join(line.strip() for line in text.splitlines())


class GroupData(Strict):
    name_zh: str
    short_name_zh: str
    hotline: str
    hotline_hours_zh: str
    # When human agents are on duty (same shape as business hours); the handoff rules read it from the CRM.
    service_hours: Hours
    complaint_hotline: str
    email: str
    wechat_account_zh: str
    website: str


class ServiceData(Strict):
    code: str
    name: str
    category: str
    price: Decimal
    price_unit_zh: str | None = None
    duration_minutes: int | None = None
    description: str | None = None
    attributes: dict[str, Any] | None = None


class BusinessData(Strict):
    code: BusinessCode
    name_zh: str
    description_zh: str
    hours: Hours
    hours_text_zh: str
    slot_minutes: int
    capacity_per_slot: int
    services: list[ServiceData]


class TenantData(Strict):
    group: GroupData
    businesses: list[BusinessData]


class StoreData(Strict):
    code: str
    business: BusinessCode
    name: str
    city: str
    district: str
    address: str
    phone: str
    latitude: float | None = None
    longitude: float | None = None
    hours: Hours | None = None
    hours_text_zh: str | None = None
    slot_minutes: int | None = None
    capacity_per_slot: int | None = None
    features: dict[str, Any] = Field(default_factory=dict)


class ProductData(Strict):
    sku: str
    name: str
    category: str
    price: Decimal
    color: str | None = None
    sizes: list[str]
    description: str | None = None


class TierData(Strict):
    tier: Tier
    label_zh: str
    min_lifetime_spend: Decimal
    points_per_yuan: Decimal
    queue_priority: int
    first_response_seconds: int
    complaint_response_hours_normal: int
    complaint_response_hours_high: int
    benefits_zh: str


class AgentData(Strict):
    username: str
    name: str
    skills: list[BusinessCode]
    max_concurrent: int
    active: bool = True
    groups: list[str] = Field(default_factory=list)


class StaffData(Strict):
    """A console login that is not an agent (supervisor, ops); agents get one from agents.yml."""

    username: str
    name: str
    role: StaffRole


class FaqData(Strict):
    key: str
    question_zh: str
    answer_zh: str
    business: BusinessCode | None = None
    store: str | None = None
    confidence_threshold: float = 0.6

    @field_validator("answer_zh", "question_zh")
    @classmethod
    def _join(cls, value: str) -> str:
        return join_lines(value)


class FaqTemplateData(Strict):
    key: str
    question_zh: str
    answer_zh: str


class FaqFile(Strict):
    entries: list[FaqData]
    store_templates: list[FaqTemplateData]


class CountsData(Strict):
    customers: int
    orders: int
    bookings: int
    complaints: int
    tier_overrides: int


class SpendData(Strict):
    pareto_alpha: float
    scale: float
    cap: float


class NamesData(Strict):
    surnames: list[str]
    given_male: list[str]
    given_female: list[str]
    two_char_given_share: float


class CityAddressData(Strict):
    province: str
    city: str
    districts: dict[str, list[str]]


class CarrierData(Strict):
    name: str
    tracking_prefix: str
    digits: int
    weight: float


class ComplaintTextData(Strict):
    business: BusinessCode
    text: str


class DemoOrderItemData(Strict):
    """A fixed line item of a demo order: a product (sku) or a service (code) of the order's business."""

    sku: str | None = None
    service: str | None = None
    quantity: int = 1

    @model_validator(mode="after")
    def _one_kind(self) -> DemoOrderItemData:
        if (self.sku is None) == (self.service is None):
            raise ValueError("a demo order item names exactly one of sku or service")
        return self


class DemoOrderData(Strict):
    business: BusinessCode
    status: OrderStatus
    days_ago: int
    # Fixed items (so the demo customer's trailing spend, and so its tier, is known); random when absent.
    items: list[DemoOrderItemData] | None = None


class DemoBookingData(Strict):
    business: BusinessCode
    days_from_anchor: int


class DemoCustomerData(Strict):
    name: str
    gender: Gender
    mobile: str
    city: str
    web_user_id: str
    wechat_openid: str
    expected_tier: Tier
    historic_spend: Decimal
    bookings: list[DemoBookingData] = Field(default_factory=list)
    orders: list[DemoOrderData]


class GeneratorData(Strict):
    random_seed: int
    counts: CountsData
    spend: SpendData
    customer_cities: dict[str, float]
    female_share: float
    history_days: int
    names: NamesData
    mobile_prefixes: list[int]
    addresses: dict[str, Any]
    carriers: list[CarrierData]
    hubs: dict[str, list[str]]
    origin_hub: str
    plate_prefixes: dict[str, str]
    plate_letters: str
    booking_business_weights: dict[BusinessCode, float]
    booking_future_share: float
    order_business_weights: dict[BusinessCode, float]
    menswear_online_share: float
    order_status_weights: dict[OrderStatus, float]
    order_status_age_days: dict[OrderStatus, tuple[int, int]]
    order_event_notes: dict[str, list[str]]
    booking_notes: list[str]
    complaints: dict[ComplaintCategory, list[ComplaintTextData]]
    complaint_status_notes: dict[str, list[str]]
    demo_customers: list[DemoCustomerData]

    def city_addresses(self, city: str) -> CityAddressData:
        return CityAddressData.model_validate(self.addresses[city])

    def address_ranges(self) -> dict[str, tuple[int, int]]:
        keys = ("building_range", "unit_range", "room_floors")  # line_template is read directly
        return {key: (int(self.addresses[key][0]), int(self.addresses[key][1])) for key in keys}


class SeedData(Strict):
    tenant: TenantData
    stores: list[StoreData]
    products: list[ProductData]
    tiers: list[TierData]
    agents: list[AgentData]
    staff: list[StaffData]
    faq: FaqFile
    generator: GeneratorData

    def business(self, code: str) -> BusinessData:
        return next(business for business in self.tenant.businesses if business.code == code)


def _read(name: str) -> Any:
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@lru_cache
def load_seed_data() -> SeedData:
    """Read and validate every YAML file under crm/seed/data."""
    return SeedData(
        tenant=TenantData.model_validate(_read("tenant.yml")),
        stores=[StoreData.model_validate(item) for item in _read("stores.yml")["stores"]],
        products=[ProductData.model_validate(item) for item in _read("catalog.yml")["products"]],
        tiers=[TierData.model_validate(item) for item in _read("tiers.yml")["tiers"]],
        agents=[AgentData.model_validate(item) for item in _read("agents.yml")["agents"]],
        staff=[StaffData.model_validate(item) for item in _read("agents.yml")["staff"]],
        faq=FaqFile.model_validate(_read("faq.yml")),
        generator=GeneratorData.model_validate(_read("generator.yml")),
    )
