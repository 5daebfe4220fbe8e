"""A fifth business added by data alone: a nail salon of kind `appointment`.

The fixture adds it the way an operator would: an entry in a copy of policy/bookings.yml (no responses of
its own, so the kind's defaults are used) and its business, stores and services as CRM rows. Nothing in
the code changes; the customer books it by typing through the booking form, and the CRM services plan,
refuse, book and cancel it under its own rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions.bookings import ActionAskBookingConfirm, ActionAskBookingService, ActionSubmitBooking, ValidateBookingForm
from crm.models import Booking, Business, Service, Store
from crm.services import bookings as booking_service
from crm.services.bookings import policy as policy_module
from tests.actions.helpers import responses
from tests.actions.test_bookings import NOW, TOMORROW, TZ, demo, identified, run, tracker

SALON = "nail_salon"
EVERY_DAY = {day: [["10:00", "21:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
SALON_POLICY: dict[str, Any] = {
    "kind": "appointment",
    "slots": ["booking_store", "booking_service", "booking_date", "booking_time"],
    "words": ["美甲店", "做指甲", "美甲"],
    "min_lead_minutes": 60,
    "max_days_ahead": 14,
    "services": {"gel_manicure": ["光疗美甲", "光疗"], "classic_manicure": ["基础美甲", "修甲"]},
    "cancellation": [{"free_until_minutes_before": 120, "fee_zh": "订金 50 元"}],
}


@pytest.fixture
def nail_salon(
    crm_sessionmaker: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The salon in a copy of the policy file and as CRM rows (two stores, two services)."""
    raw = yaml.safe_load(policy_module.POLICY_FILE.read_text(encoding="utf-8"))
    raw["businesses"][SALON] = SALON_POLICY
    raw["store_aliases"]["gy-hgy-nail"] = ["花果园"]
    raw["store_aliases"]["gy-gsh-nail"] = ["观山湖"]
    path = tmp_path / "bookings.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setattr(policy_module, "POLICY_FILE", path)
    policy_module.get_booking_policy.cache_clear()
    with crm_sessionmaker.begin() as session:
        business = Business(code=SALON, name_zh="悦享美甲")
        session.add(business)
        session.flush()
        for code, name, district in (
            ("gy-hgy-nail", "悦享美甲·花果园店", "南明区"),
            ("gy-gsh-nail", "悦享美甲·观山湖店", "观山湖区"),
        ):
            session.add(
                Store(
                    business_id=business.id,
                    code=code,
                    name=name,
                    city="贵阳",
                    district=district,
                    address=f"贵阳市{district}",
                    phone="0851-88880000",
                    opening_hours=EVERY_DAY,
                    hours_text_zh="每天 10:00-21:00",
                    slot_minutes=30,
                    capacity_per_slot=1,
                )
            )
        session.add_all(
            [
                Service(
                    business_id=business.id,
                    code="gel_manicure",
                    name="光疗美甲",
                    category="nails",
                    price=Decimal("168"),
                    price_unit_zh="元/次",
                    duration_minutes=90,
                ),
                Service(
                    business_id=business.id,
                    code="classic_manicure",
                    name="基础美甲",
                    category="nails",
                    price=Decimal("68"),
                    price_unit_zh="元/次",
                    duration_minutes=45,
                ),
            ]
        )
    yield
    policy_module.get_booking_policy.cache_clear()


async def test_a_customer_books_the_new_business_by_typing(
    nail_salon: None, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker() as session:
        who = identified(demo(session, "demo-gold"))

    # Turn 1: service, day and time in one message, store not named: the form asks for the store only.
    slots, _ = await run(ValidateBookingForm(), tracker("明天下午3点想做个光疗美甲", intent="book", slots=who))
    assert (slots["business"], slots["booking_service"]) == (SALON, "gel_manicure")
    assert (slots["booking_date"], slots["booking_time"]) == (TOMORROW.isoformat(), "15:00")
    assert slots["requested_slot"] == "booking_store"
    state = {**who, **{key: value for key, value in slots.items() if key != "requested_slot"}}

    # Turn 2: the store; everything is known, so the summary (the kind's default response) is next.
    slots, _ = await run(ValidateBookingForm(), tracker("花果园那家", slots=state, requested="booking_store"))
    assert slots["booking_store"] == "gy-hgy-nail" and slots["requested_slot"] == "booking_confirm"
    state = {**state, "booking_store": "gy-hgy-nail"}
    _, said = await run(ActionAskBookingConfirm(), tracker("花果园那家", slots=state))
    assert responses(said) == ["utter_booking_summary_appointment", "utter_ask_booking_confirm"]
    assert said.messages[0]["service"] == "光疗美甲" and said.messages[0]["store"] == "悦享美甲·花果园店"

    # Turn 3: a typed yes, then the booking is written once.
    slots, _ = await run(ValidateBookingForm(), tracker("对的", slots=state, requested="booking_confirm"))
    assert slots["booking_confirm"] is True
    events, said = await run(ActionSubmitBooking(), tracker("对的", slots={**state, "booking_confirm": True}))
    assert responses(said) == ["utter_booking_created"]
    with crm_sessionmaker() as session:
        booking = session.scalars(select(Booking).where(Booking.booking_number == events["last_booking"])).one()
        service = session.get(Service, booking.service_id)
        assert service is not None and service.code == "gel_manicure"
        assert booking.start_at.astimezone(TZ) == datetime.combine(TOMORROW, datetime.min.time(), TZ).replace(hour=15)
        assert booking.end_at - booking.start_at == timedelta(minutes=90)


async def test_the_new_business_asks_with_the_kinds_responses_and_its_own_services(nail_salon: None) -> None:
    _, said = await run(ActionAskBookingService(), tracker("", slots={"business": SALON}))
    assert responses(said) == ["utter_ask_booking_service"]
    assert [button["title"] for button in said.messages[0]["buttons"]] == ["光疗美甲", "基础美甲"]
    slots, said = await run(
        ValidateBookingForm(),
        tracker("想做睫毛", slots={"business": SALON}, requested="booking_service"),
    )
    assert slots["booking_service"] is None and responses(said)[0] == "utter_booking_service_unknown"


async def test_its_lead_time_and_capacity_come_from_its_own_data(
    nail_salon: None, crm_sessionmaker: sessionmaker[Session]
) -> None:
    draft = booking_service.BookingDraft(
        business_code=SALON,
        store_code="gy-gsh-nail",
        service_code="classic_manicure",
        start_at=NOW + timedelta(minutes=30),
    )
    with crm_sessionmaker.begin() as session:
        problem = booking_service.check_booking(session, draft=draft, now=NOW)
        assert problem is not None and problem.code == "too_soon"  # 60 minutes' lead, from its policy
        assert all(start >= NOW + timedelta(minutes=60) for start in problem.alternatives)

        later = draft.model_copy(update={"start_at": NOW + timedelta(days=1)})
        customer_id = booking_service.find_or_create_customer(session, mobile="13900001234", name="林")
        first = booking_service.create_booking(
            session, draft=later, customer_id=customer_id, idempotency_key="a", now=NOW
        )
        assert first.booking is not None and first.booking.business_code == SALON
        full = booking_service.check_booking(session, draft=later, now=NOW)  # one chair per slot
        assert full is not None and full.code == "full" and full.alternatives

        terms = booking_service.cancellation_terms(
            session,
            booking_number=first.booking.booking_number,
            now=later.start_at - timedelta(minutes=60),
            customer_id=customer_id,
        )
        assert terms is not None and not terms.free and terms.fee_zh == "订金 50 元"  # its own cancellation rule
