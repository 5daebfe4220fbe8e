"""Company facts have one home: an FAQ answer that quotes a service's price quotes the price in tenant.yml."""

from __future__ import annotations

import re
from typing import Any

import yaml

from core.settings import PROJECT_ROOT

SEED_DATA = PROJECT_ROOT / "crm" / "seed" / "data"
# "标准洗车 35 元/次", "小保养（398 元起）", "精致洗车（精洗）88 元/次": a price right after the service's name.
QUOTED_PRICE = r"{name}[^，。；,\d]{{0,6}}?(\d+(?:\.\d+)?)\s*元"


def _load(name: str) -> Any:
    return yaml.safe_load((SEED_DATA / name).read_text(encoding="utf-8"))


def quoted_prices(answer: str, services: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    """(service, quoted, listed) for every price the answer quotes right after a service's short name."""
    found = []
    for service in services:
        short = str(service["name"]).split("（")[0]
        for match in re.finditer(QUOTED_PRICE.format(name=re.escape(short)), answer):
            found.append((short, float(match.group(1)), float(service["price"])))
    return found


def all_services(tenant: dict[str, Any]) -> list[dict[str, Any]]:
    return [service for business in tenant["businesses"] for service in business.get("services", [])]


def test_faq_answers_quote_the_listed_service_prices() -> None:
    services = all_services(_load("tenant.yml"))
    quoted = [
        (entry["key"], *price)
        for entry in _load("faq.yml")["entries"]
        for price in quoted_prices(str(entry.get("answer_zh", "")), services)
    ]
    assert len(quoted) >= 5, quoted  # the check reads the answers that quote prices, not none of them
    wrong = [q for q in quoted if q[2] != q[3]]
    assert not wrong, wrong


def test_a_changed_price_in_one_home_is_caught() -> None:
    services = [{"name": "小保养（机油 + 机滤）", "price": 428}, {"name": "标准洗车", "price": 35}]
    answer = "小保养（398 元起）：更换机油；标准洗车 35 元/次。"
    assert quoted_prices(answer, services) == [("小保养", 398.0, 428.0), ("标准洗车", 35.0, 35.0)]
