"""Generate customers: Chinese names, valid mobiles, cities and a heavy-tailed historic spend."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from crm.models import Customer
from crm.seed.clock import SeedClock
from crm.seed.config import DemoCustomerData, GeneratorData

CENT = Decimal("0.01")


@dataclass
class CustomerDraft:
    """A customer before its orders are known; lifetime spend = historic spend + delivered orders."""

    customer: Customer
    historic_spend: Decimal
    demo: DemoCustomerData | None = None

    @property
    def order_weight(self) -> float:
        # Big spenders order more often, which keeps the 80/20 shape after orders are added.
        return 1.0 + float(self.historic_spend) ** 0.5 / 20


def make_name(rng: random.Random, config: GeneratorData, gender: str) -> str:
    pool = config.names.given_female if gender == "female" else config.names.given_male
    length = 2 if rng.random() < config.names.two_char_given_share else 1
    candidates = [given for given in pool if len(given) == length] or pool
    return rng.choice(config.names.surnames) + rng.choice(candidates)


def make_mobile(rng: random.Random, config: GeneratorData, used: set[str]) -> str:
    while True:
        mobile = f"{rng.choice(config.mobile_prefixes)}{rng.randrange(10**8):08d}"
        if mobile not in used:
            used.add(mobile)
            return mobile


def _historic_spend(rng: random.Random, config: GeneratorData) -> Decimal:
    spend = config.spend.scale * (rng.paretovariate(config.spend.pareto_alpha) - 1)
    return Decimal(str(min(spend, config.spend.cap))).quantize(CENT)


def make_customers(rng: random.Random, config: GeneratorData, clock: SeedClock) -> list[CustomerDraft]:
    """Demo customers first (fixed identities), then `counts.customers` generated ones."""
    used_mobiles = {demo.mobile for demo in config.demo_customers}
    drafts: list[CustomerDraft] = []
    for demo in config.demo_customers:
        registered = clock.now - timedelta(days=400 + 30 * len(drafts))
        customer = Customer(
            name=demo.name,
            gender=demo.gender,
            mobile=demo.mobile,
            web_user_id=demo.web_user_id,
            wechat_openid=demo.wechat_openid,
            city=demo.city,
            created_at=registered,
            updated_at=registered,
        )
        drafts.append(CustomerDraft(customer, demo.historic_spend.quantize(CENT), demo))
    cities = list(config.customer_cities)
    city_weights = list(config.customer_cities.values())
    for _ in range(config.counts.customers):
        gender = "female" if rng.random() < config.female_share else "male"
        registered = clock.now - timedelta(days=rng.uniform(20, 1500))
        customer = Customer(
            name=make_name(rng, config, gender),
            gender=gender,
            mobile=make_mobile(rng, config, used_mobiles),
            city=rng.choices(cities, city_weights)[0],
            created_at=registered,
            updated_at=registered,
        )
        drafts.append(CustomerDraft(customer, _historic_spend(rng, config)))
    return drafts
