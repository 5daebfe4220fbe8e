"""What the booking forms know and say: the draft the slots describe, moments and bookings as the customer
reads them, problems with their alternatives as buttons, and which booking the requester may act on.

Wording patterns are data (policy/bookings.yml `wording`, domain.yml responses); nothing here names a business.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import datetimes
from actions.bookings.names import (
    AREA,
    BUSINESS,
    DATE,
    NAME,
    NIGHTS,
    PARTY,
    PHONE,
    PLATE,
    SERVICE,
    STORE,
    TIME,
)
from actions.crm import in_read_only_session, in_session
from actions.forms import INVALID_ATTEMPTS, identified_customer_id, usable
from actions.normalize import find_mobile
from crm.schemas import StoreOut
from crm.services import bookings as booking_service
from crm.services import stores as store_service
from crm.services.bookings.kinds import local_at, opening_periods
from crm.services.bookings.policy import get_booking_policy, local_tz

# ------------------------------------------------------------------------------------------- moments


def local(moment: datetime) -> datetime:
    return moment.astimezone(local_tz())


def format_moment(moment: datetime, *, with_clock: bool = True) -> str:
    wording = get_booking_policy().wording
    at = local(moment)
    values = {
        "month": at.month,
        "day": at.day,
        "weekday": wording.weekdays[at.weekday()],
        "clock": at.strftime("%H:%M"),
    }
    return (wording.moment if with_clock else wording.day).format(**values)


def format_booked(moment: datetime, business_code: str) -> str:
    """A booking's start as its kind states it: a stay by the day, the others with the clock time."""
    policy = get_booking_policy()
    with_clock = policy.kind_of(business_code).with_clock if policy.knows(business_code) else True
    return format_moment(moment, with_clock=with_clock)


def button_moment(moment: datetime) -> str:
    """A button payload the time extraction reads back: absolute date and clock time."""
    at = local(moment)
    return get_booking_policy().wording.button_moment.format(month=at.month, day=at.day, clock=at.strftime("%H:%M"))


def is_open_at(store: StoreOut, day: date, clock: time) -> bool:
    moment = local_at(day, clock.strftime("%H:%M"))
    return any(opening <= moment < closing for opening, closing in opening_periods(store, day))


# ------------------------------------------------------------------------------------------ the draft


def business_slots(business: object) -> list[str]:
    """What the booking form asks for this business (policy/bookings.yml `slots`); [] for an unknown one."""
    policy = get_booking_policy()
    return list(policy.business(business).slots) if isinstance(business, str) and policy.knows(business) else []


def draft_of(tracker: Tracker, *, complete: bool = True) -> booking_service.BookingDraft | None:
    """The booking as far as the slots describe it; None while something it needs is missing.

    With `complete=False` only the slots the calendar check needs (the kind's `planned_by`) must be
    there, so the store's calendar is checked before the plate or a stay's guest count are known.
    """
    business = tracker.get_slot(BUSINESS)
    asked = business_slots(business)
    if not asked:
        return None
    needed = (
        asked if complete else [slot for slot in asked if slot in get_booking_policy().kind_of(business).planned_by]
    )
    values = {slot: tracker.get_slot(slot) for slot in asked}
    if not all(usable(values[slot]) for slot in needed):
        return None
    values = {slot: value for slot, value in values.items() if usable(value)}
    day = date.fromisoformat(values[DATE])
    clock = time.fromisoformat(values[TIME]) if TIME in values else time(12, 0)  # a stay: the day counts
    return booking_service.BookingDraft(
        business_code=business,
        store_code=values[STORE],
        start_at=datetime.combine(day, clock, tzinfo=local_tz()),
        service_code=values.get(SERVICE),
        party_size=int(values[PARTY]) if PARTY in values else None,
        nights=int(float(values[NIGHTS])) if NIGHTS in values else None,
        area=values.get(AREA),
        plate_number=values.get(PLATE),
    )


def reask_slot(business_code: str, problem: booking_service.BookingProblem) -> str:
    """The slot asked again after `problem` (the kind's `reask` in policy/bookings.yml)."""
    policy = get_booking_policy()
    slot = policy.kind_of(business_code).reask.get(problem.code)
    if slot is not None:
        return slot
    return TIME if TIME in policy.business(business_code).slots else DATE


def utter_problem(
    dispatcher: CollectingDispatcher, problem: booking_service.BookingProblem, business_code: str
) -> None:
    """Explains why the request cannot be booked and offers what is free instead as buttons."""
    buttons = [{"title": button_moment(slot), "payload": button_moment(slot)} for slot in problem.alternatives]
    if problem.alternative_services:
        services = get_booking_policy().business(business_code).services
        for code in problem.alternative_services:
            if services.get(code):
                buttons.append({"title": services[code][0], "payload": services[code][0]})
    values: dict[str, Any] = {"limit": problem.limit, "hours": problem.hours_text_zh or ""}
    dispatcher.utter_message(response=f"utter_booking_problem_{problem.code}", buttons=buttons, **values)
    if not buttons and problem.code in ("full", "past", "too_soon", "closed"):
        dispatcher.utter_message(response="utter_booking_no_alternatives")


async def describe_draft(tracker: Tracker, draft: booking_service.BookingDraft) -> dict[str, Any]:
    """The values of a booking summary: what matters for the kind (a stay's check-out, a room's minimum spend)."""
    store = await in_read_only_session(store_service.get_store, code=draft.store_code)
    names = await in_read_only_session(booking_service.service_names, business_code=draft.business_code)
    wording = get_booking_policy().wording
    area = wording.areas.get(draft.area or "", "")
    policy = get_booking_policy().business(draft.business_code)
    if draft.area is not None and draft.area != policy.shared_area:  # the room the party gets, and its minimum spend
        room = await in_read_only_session(booking_service.planned_service, draft=draft, now=datetimes.now())
        if room is not None:
            area = wording.area_with_room.format(
                area=area, room=room.name, price=f"{room.price:.0f}", unit=room.price_unit_zh or ""
            )
    checkout = ""
    if draft.nights:
        checkout = wording.checkout.format(
            day=format_moment(draft.start_at + timedelta(days=draft.nights), with_clock=False)
        )
    return {
        "store": store.name if store else draft.store_code,
        "service": names.get(draft.service_code or "", ""),
        "when": format_booked(draft.start_at, draft.business_code),
        "nights": draft.nights,
        "checkout": checkout,
        "party": draft.party_size,
        "area": area,
        "plate": draft.plate_number,
        "mobile": tracker.get_slot(PHONE),
        "contact": wording.contact.format(name=name) if (name := tracker.get_slot(NAME)) else "",
    }


def describe_booking(booking: booking_service.BookingOut) -> dict[str, Any]:
    wording = get_booking_policy().wording
    what = booking.service_name or wording.areas.get(booking.area or "", "")
    if booking.nights:
        what = f"{what} {wording.nights.format(nights=booking.nights)}"
    if booking.party_size:
        what = f"{what} {wording.party.format(party=booking.party_size)}"
    return {
        "booking_number": booking.booking_number,
        "store": booking.store_name,
        "what": what.strip(),
        "when": format_booked(booking.start_at, booking.business_code),
        "status": wording.statuses.get(booking.status, booking.status),
        "name": booking.masked_customer_name,
        "mobile": booking.masked_mobile,
    }


def booking_button(booking: booking_service.BookingOut) -> dict[str, str]:
    values = describe_booking(booking)
    line = get_booking_policy().wording.booking_line.format(
        number=booking.booking_number, **{key: values[key] for key in ("what", "when", "store")}
    )
    return {"title": line, "payload": booking.booking_number}


# ------------------------------------------------------------------------------------ whose booking


def owner_kwargs(tracker: Tracker) -> dict[str, Any]:
    """Who asks, as the CRM's ownership rule takes it: the identified customer, else the mobile they gave."""
    customer_id = identified_customer_id(tracker)
    return {"customer_id": customer_id} if customer_id is not None else {"mobile": tracker.get_slot(PHONE)}


async def owned_booking(tracker: Tracker, number: object) -> booking_service.BookingOut | None:
    """The booking `number` if the requester may see it; None otherwise (also for no number at all)."""
    if not usable(number):
        return None
    customer_id = identified_customer_id(tracker)
    mobile = tracker.get_slot(PHONE)
    if customer_id is None and not (mobile and find_mobile(str(mobile))):
        return None
    return await in_session(
        booking_service.get_booking,
        booking_number=str(number),
        customer_id=customer_id,
        mobile=None if customer_id is not None else mobile,
    )


def reset(names: tuple[str, ...]) -> list[EventType]:
    return [SlotSet(name, None) for name in names] + [SlotSet(INVALID_ATTEMPTS, 0)]
