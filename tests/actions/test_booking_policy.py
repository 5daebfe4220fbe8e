"""policy/bookings.yml against the domain: every slot, re-ask target and response it names exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from crm.policy_check import LOADERS, check
from crm.services.bookings.policy import POLICY_FILE, BookingPolicy, get_booking_policy
from tests.actions.helpers import DOMAIN

ROLES = ("ask_booking_service", "booking_service_unknown", "booking_summary")


def test_every_slot_a_business_asks_or_re_asks_is_a_domain_slot() -> None:
    policy = get_booking_policy()
    for code, business in policy.businesses.items():
        kind = policy.kind_of(code)
        named = {*business.slots, *kind.planned_by, *kind.reask.values()}
        assert named <= set(DOMAIN["slots"]), (code, named - set(DOMAIN["slots"]))
        assert set(kind.planned_by) <= set(business.slots), code


def test_every_response_a_business_uses_is_in_the_domain() -> None:
    policy = get_booking_policy()
    for code, business in policy.businesses.items():
        roles = [role for role in ROLES if role != "booking_summary" and "booking_service" in business.slots]
        for role in [*roles, "booking_summary"]:
            assert policy.response(code, role) in DOMAIN["responses"], (code, role)


def _raw() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    return raw


@pytest.mark.parametrize(
    ("business", "broken"),
    [
        ("hotel", {"kind": "stay", "check_in_time": None}),
        ("restaurant", {"shared_area": "terrace"}),
        ("car_care", {"services": {}}),
        ("car_care", {"kind": "boat"}),
    ],
)
def test_a_business_missing_what_its_kind_needs_is_refused_at_load(business: str, broken: dict[str, Any]) -> None:
    raw = _raw()
    raw["businesses"][business].update(broken)
    if business == "hotel":
        raw["businesses"]["hotel"]["check_out_time"] = "12:00"
    with pytest.raises(ValidationError):
        BookingPolicy.model_validate(raw)


def test_policy_check_names_the_line_of_a_broken_booking_policy(tmp_path: Path) -> None:
    source = POLICY_FILE.parent
    for name in LOADERS:
        (tmp_path / name).write_text((source / name).read_text(encoding="utf-8"), encoding="utf-8")
    assert check(tmp_path) == []
    text = (tmp_path / "bookings.yml").read_text(encoding="utf-8")
    (tmp_path / "bookings.yml").write_text(text.replace("kind: table", "kind: boat"), encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if row.strip() == "kind: table")
    [problem] = check(tmp_path)
    assert problem.startswith(f"{tmp_path / 'bookings.yml'}:{line}: businesses.restaurant.kind:"), problem
