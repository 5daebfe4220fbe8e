"""Bookings for car care, tailoring, hotel rooms and restaurant tables: book, modify, cancel, look up.

Forms ask only what the chosen business needs (crm/seed/data/bookings.yml and the CRM catalog). Free text
is read by `extract_<slot>` methods, so corrections ("改成四点半", "不是这家，是花果园那家") work at any
step; values that cannot be used are explained and asked again (actions/forms.py counts the failures).
A value starting with INVALID is an answer we could not use, kept only until its validator explains it.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from datetime import date, datetime, time, timedelta
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import datetimes, slots
from actions.crm import in_read_only_session, in_session
from actions.forms import (
    ANSWER_INTENTS,
    INVALID_ATTEMPTS,
    REQUESTED_SLOT,
    UNUSABLE,
    Form,
    MobileMixin,
    Turn,
    accept,
    correction_tail,
    identified_customer_id,
    reject,
    says_book,
    usable,
)
from actions.normalize import find_booking_number, find_mobile, looks_like_phone_attempt, normalize_text, parse_count
from crm.schemas import StoreOut
from crm.seed.config import WEEKDAYS
from crm.services import bookings as booking_service
from crm.services import customers as customer_service
from crm.services import stores as store_service
from crm.services.booking_policy import get_booking_policy, local_tz, match_alias

BUSINESS = slots.BUSINESS
STORE = "booking_store"
SERVICE = "booking_service"
AREA = "booking_area"
DATE = "booking_date"
TIME = "booking_time"
NIGHTS = "booking_nights"
PLATE = "booking_plate"
PARTY = "party_size"
PHONE = "phone"
NAME = "booking_name"
NEW_CUSTOMER = "booking_new_customer"
CONFIRM = "booking_confirm"
BOOKING_ID = "booking_id"
CHANGE = "booking_change"
LAST_BOOKING = "last_booking"

INVALID = UNUSABLE
BUSINESS_SLOTS: dict[str, list[str]] = {
    "car_care": [STORE, SERVICE, DATE, TIME, PLATE],
    "menswear": [STORE, SERVICE, DATE, TIME],
    "hotel": [STORE, SERVICE, DATE, NIGHTS, PARTY],
    "restaurant": [STORE, PARTY, AREA, DATE, TIME],
}
BOOKING_SLOTS = (BUSINESS, STORE, SERVICE, AREA, DATE, TIME, NIGHTS, PLATE, PARTY, NAME, NEW_CUSTOMER, CONFIRM)
MANAGE_SLOTS = (BOOKING_ID, CHANGE, CONFIRM)
MAX_LISTED_BOOKINGS = 5


# --------------------------------------------------------------------------------------------- parsing


def _text(tracker: Tracker) -> str:
    return normalize_text(tracker.latest_message.get("text") or "")


def _intent(tracker: Tracker) -> str:
    return (tracker.latest_message.get("intent") or {}).get("name") or ""


def _confirmation(tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
    """`booking_confirm` is set only by a yes (typed or the button) to the confirmation question itself."""
    if tracker.get_slot(REQUESTED_SLOT) == CONFIRM and Turn.of(tracker).confirmation(domain):
        return {CONFIRM: True}
    return {}


def _is_answer(tracker: Tracker, slot: str) -> bool:
    """True when the latest message answers the question for `slot` (it was asked and is no interruption)."""
    return Turn.of(tracker).answers(slot)


def _customer_id(tracker: Tracker) -> int | None:
    return identified_customer_id(tracker)


# People counts said without being asked need a counting word: "一个包间" is no party of one.
_PARTY_SAID = re.compile(r"([0-9一二两三四五六七八九十百]{1,4})\s*[来多几]?\s*(?:个人|位|名|口人|人)")
_NAME_SAID = re.compile(
    r"(?:免贵)?姓\s*([\u4e00-\u9fff]{1,2}?)(?=$|[\s,，。!！]|先生|女士|小姐)|([\u4e00-\u9fff])(?:先生|女士|小姐)"
)


def time_words(text: str) -> str:
    """The part of a message that can name a day or time: the correction's new value, without party sizes,
    plates and mobiles ("明天晚上七点 12个人" is 19:00, not 19:12)."""
    tail = correction_tail(text)
    for pattern in (_PARTY_SAID, _MOBILE_OR_NUMBER):
        tail = pattern.sub("，", tail)
    plate, _ = find_plate(tail)
    return tail.replace(plate, "，") if plate else tail


_MOBILE_OR_NUMBER = re.compile(r"(?:YY|DD|TS)?\d{7,}", re.IGNORECASE)


def find_party_size(text: str) -> int | None:
    """'5个人' / '两位' anywhere in a message; None without a counting word."""
    match = _PARTY_SAID.search(text) or re.search(r"一家[二两三四五六七八九十]口", text)
    return parse_count(match.group(0)) if match else None


def find_name(text: str) -> str | None:
    """'姓李' / '免贵姓刘' / '杨先生' anywhere in a message -> the surname (with the title when given)."""
    match = _NAME_SAID.search(text)
    if match is None:
        return None
    if match.group(1):
        return match.group(1)
    return match.group(0)


def find_plate(text: str) -> tuple[str | None, bool]:
    """(plate, attempted): '贵A·12345' -> ('贵A12345', True); new-energy plates have 8 characters."""
    provinces = get_booking_policy().plate_provinces
    compact = re.sub(r"[\s·\-.]", "", normalize_text(text).upper())
    candidate = re.search(rf"[{provinces}][A-Z0-9]{{1,8}}", compact)
    if candidate is None:
        return None, False
    plate = candidate.group(0)
    body = r"[A-HJ-NP-Z0-9]"
    regular = re.fullmatch(rf"[{provinces}][A-Z]{body}{{5}}", plate)
    new_energy = re.fullmatch(rf"[{provinces}][A-Z](?:[DF]{body}\d{{4}}|\d{{5}}[DF])", plate)
    return (plate if regular or new_energy else None), True


async def _business_stores(business: str) -> list[StoreOut]:
    return await in_read_only_session(store_service.list_stores, business_code=business)


def match_store(text: str, stores: list[StoreOut]) -> list[StoreOut]:
    """Stores named in `text` by an alias (bookings.yml), their district, or a city with one such store."""
    aliases = get_booking_policy().store_aliases
    matched = [
        store
        for store in stores
        if any(word in text for word in aliases.get(store.code, []))
        or store.district in text
        or (len(store.district) > 2 and store.district[:-1] in text)
    ]
    if matched:
        return matched
    by_city = [store for store in stores if store.city in text]
    return by_city if len({store.code for store in by_city}) == 1 else []


def find_business(text: str, entities: list[str]) -> str | None:
    """The business a message is about: a service or room it names, the business's own words, or the NLU entity."""
    for business in BUSINESS_SLOTS:
        if match_alias(text, _aliases(business)):
            return business
    policy = get_booking_policy()
    named = [business for business in BUSINESS_SLOTS if any(word in text for word in policy.business(business).words)]
    if named:
        return named[-1] if len(named) > 1 and "restaurant" in named else named[0]
    return next((value for value in entities if value in BUSINESS_SLOTS), None)


def _aliases(business: str) -> dict[str, list[str]]:
    policy = get_booking_policy().business(business)
    return policy.rooms if business == "hotel" else policy.services


def _local(moment: datetime) -> datetime:
    return moment.astimezone(local_tz())


def format_moment(moment: datetime, *, with_clock: bool = True) -> str:
    wording = get_booking_policy().wording
    local = _local(moment)
    values = {
        "month": local.month,
        "day": local.day,
        "weekday": wording.weekdays[local.weekday()],
        "clock": local.strftime("%H:%M"),
    }
    return (wording.moment if with_clock else wording.day).format(**values)


def button_moment(moment: datetime) -> str:
    """A button payload the time extraction reads back: absolute date and clock time."""
    local = _local(moment)
    return get_booking_policy().wording.button_moment.format(
        month=local.month, day=local.day, clock=local.strftime("%H:%M")
    )


def _is_open_at(store: StoreOut, day: date, clock: time) -> bool:
    moment = clock.hour * 60 + clock.minute
    for opening, closing in store.opening_hours[WEEKDAYS[day.weekday()]]:
        start = int(opening[:2]) * 60 + int(opening[3:])
        end = int(closing[:2]) * 60 + int(closing[3:])
        if start <= moment < end:
            return True
    return False


# -------------------------------------------------------------------------------------- booking form


async def _store_of(tracker: Tracker) -> StoreOut | None:
    code = tracker.get_slot(STORE)
    if not code or str(code).startswith(INVALID):
        return None
    return await in_read_only_session(store_service.get_store, code=code)


def _draft(tracker: Tracker, *, complete: bool = True) -> booking_service.BookingDraft | None:
    """The booking as far as the slots describe it; None while something it needs is missing."""
    business = tracker.get_slot(BUSINESS)
    if business not in BUSINESS_SLOTS:
        return None
    values = {slot: tracker.get_slot(slot) for slot in BUSINESS_SLOTS[business]}
    # The calendar can be checked before the plate (and a hotel's guest count) are known.
    optional = {PLATE, PARTY} - ({PARTY} if business == "restaurant" else set()) if not complete else set()
    if any(
        value in (None, "") or str(value).startswith(INVALID) for slot, value in values.items() if slot not in optional
    ):
        return None
    values = {
        slot: value for slot, value in values.items() if value not in (None, "") and not str(value).startswith(INVALID)
    }
    day = date.fromisoformat(values[DATE])
    clock = time.fromisoformat(values[TIME]) if TIME in values else time(12, 0)  # hotels: the day counts
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


def _utter_problem(dispatcher: CollectingDispatcher, problem: booking_service.BookingProblem) -> None:
    """Explains why the request cannot be booked and offers what is free instead as buttons."""
    buttons = [{"title": button_moment(slot), "payload": button_moment(slot)} for slot in problem.alternatives]
    if problem.alternative_services:
        names = {code: words[0] for code, words in get_booking_policy().business("hotel").rooms.items()}
        buttons += [{"title": names[code], "payload": names[code]} for code in problem.alternative_services]
    response = f"utter_booking_problem_{problem.code}"
    values: dict[str, Any] = {"limit": problem.limit, "hours": problem.hours_text_zh or ""}
    dispatcher.utter_message(response=response, buttons=buttons, **values)
    if not buttons and problem.code in ("full", "past", "too_soon", "closed"):
        dispatcher.utter_message(response="utter_booking_no_alternatives")


# Which slot to ask again for each problem.
PROBLEM_SLOTS = {
    "past": TIME,
    "too_soon": TIME,
    "closed": TIME,
    "full": TIME,
    "too_far": DATE,
    "party_too_small": PARTY,
    "party_too_large": PARTY,
    "hall_too_small": AREA,
    "no_room_for_party": PARTY,
    "nights_out_of_range": NIGHTS,
    "unknown_store": STORE,
    "unknown_service": SERVICE,
}


class ValidateBookingForm(MobileMixin, Form):
    """Runs on every turn of booking_form: reads answers and corrections, checks them and the store's calendar."""

    def name(self) -> str:
        return "validate_booking_form"

    def read_anytime(self, tracker: Tracker) -> list[str]:
        # A surname said early ("5个人，姓李") is kept for when the name is needed.
        return [NAME] if _customer_id(tracker) is None else []

    async def asked_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[str]:
        # The first message may name the business and its details at once ("想洗个车", "订个包间…"): read
        # them all in that same turn, not only the business.
        business = tracker.get_slot(BUSINESS) or find_business(
            _text(tracker), list(tracker.get_latest_entity_values(BUSINESS))
        )
        needed = [BUSINESS, *BUSINESS_SLOTS.get(str(business or ""), [DATE, TIME, PARTY])]
        if _customer_id(tracker) is None:
            needed.append(PHONE)
            if tracker.get_slot(NEW_CUSTOMER):
                needed.append(NAME)
        needed.append(CONFIRM)
        return needed

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().get_validation_events(dispatcher, tracker, domain)
        changed = {event["name"] for event in events if event.get("event") == "slot"}
        tracker.add_slots(events)
        if changed - {CONFIRM, PHONE, NAME, NEW_CUSTOMER, INVALID_ATTEMPTS}:
            events.append(SlotSet(CONFIRM, None))  # anything changed: summarise again before booking
        draft = _draft(tracker, complete=False)
        if draft is None or tracker.get_slot(CONFIRM):
            return events
        problem = await in_read_only_session(booking_service.check_booking, draft=draft, now=datetimes.now())
        if problem is None:
            return events
        _utter_problem(dispatcher, problem)
        slot = PROBLEM_SLOTS.get(problem.code, TIME)
        if draft.business_code == "hotel" and slot == TIME:
            slot = SERVICE if problem.code == "full" else DATE
        return [*events, SlotSet(slot, None), SlotSet(CONFIRM, None)]

    # ---- business
    async def extract_business(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot(BUSINESS):
            return {}
        business = find_business(_text(tracker), list(tracker.get_latest_entity_values(BUSINESS)))
        if business:
            return {BUSINESS: business}
        return {BUSINESS: INVALID} if _is_answer(tracker, BUSINESS) else {}

    def validate_business(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value in BUSINESS_SLOTS:
            return accept(BUSINESS, value)
        return reject(dispatcher, tracker, BUSINESS, "utter_booking_business_unknown")

    # ---- store
    async def extract_booking_store(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        business = tracker.get_slot(BUSINESS)
        if business not in BUSINESS_SLOTS:
            return {}
        stores = await _business_stores(business)
        if len(stores) == 1:
            return {STORE: stores[0].code} if not tracker.get_slot(STORE) else {}
        matched = match_store(_text(tracker), stores)
        if len(matched) == 1:
            return {STORE: matched[0].code} if matched[0].code != tracker.get_slot(STORE) else {}
        if _is_answer(tracker, STORE):
            return {STORE: INVALID}
        return {}

    def validate_booking_store(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value and not str(value).startswith(INVALID):
            return accept(STORE, value)
        return reject(dispatcher, tracker, STORE, "utter_booking_store_unknown")

    # ---- service / room type
    async def extract_booking_service(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        business = tracker.get_slot(BUSINESS)
        if business not in ("car_care", "menswear", "hotel"):
            return {}
        codes = match_alias(_text(tracker), _aliases(business))
        if codes:
            return {SERVICE: codes[0]} if codes[0] != tracker.get_slot(SERVICE) else {}
        return {SERVICE: INVALID} if _is_answer(tracker, SERVICE) else {}

    def validate_booking_service(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value and not str(value).startswith(INVALID):
            return accept(SERVICE, value)
        business = tracker.get_slot(BUSINESS)
        return reject(dispatcher, tracker, SERVICE, f"utter_booking_service_unknown_{business}")

    # ---- restaurant area
    async def extract_booking_area(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot(BUSINESS) != "restaurant":
            return {}
        codes = match_alias(_text(tracker), get_booking_policy().business("restaurant").areas)
        if codes:
            return {AREA: codes[0]} if codes[0] != tracker.get_slot(AREA) else {}
        return {AREA: INVALID} if _is_answer(tracker, AREA) else {}

    def validate_booking_area(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value in ("hall", "private_room"):
            return accept(AREA, value)
        return reject(dispatcher, tracker, AREA, "utter_booking_area_unknown")

    # ---- date and time
    async def extract_booking_date(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        when = datetimes.parse_when(time_words(_text(tracker)), datetimes.now())
        asked = tracker.get_slot(REQUESTED_SLOT) in (DATE, TIME) and _intent(tracker) in ANSWER_INTENTS
        if when.invalid:
            return {DATE: f"{INVALID}{when.invalid}"}
        if when.day is not None:
            return {DATE: when.day.isoformat()} if when.day.isoformat() != tracker.get_slot(DATE) else {}
        if asked and when.clock is None and tracker.get_slot(REQUESTED_SLOT) == DATE:
            return {DATE: f"{INVALID}unparsed"}
        return {}

    def validate_booking_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        if text in (f"{INVALID}month", f"{INVALID}day"):
            return reject(dispatcher, tracker, DATE, "utter_booking_date_impossible")
        if text.startswith(INVALID) or not text:
            return reject(dispatcher, tracker, DATE, "utter_booking_date_unclear")
        if date.fromisoformat(text) < datetimes.now().date():
            return reject(dispatcher, tracker, DATE, "utter_booking_date_past")
        return accept(DATE, text)

    async def extract_booking_time(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        business = tracker.get_slot(BUSINESS)
        if business == "hotel":
            return {}
        moment = datetimes.now()
        when = datetimes.parse_when(time_words(_text(tracker)), moment)
        if when.clock is None:
            if _is_answer(tracker, TIME) and when.day is None and not when.invalid:
                return {TIME: f"{INVALID}unparsed"}
            return {}
        clock = when.clock
        if when.hour_ambiguous:
            store = await _store_of(tracker)
            day_text = tracker.get_slot(DATE)
            day = when.day or (
                date.fromisoformat(day_text) if day_text and not day_text.startswith(INVALID) else moment.date()
            )
            if store is not None:
                clock = datetimes.resolve_hour(day, clock, lambda candidate: _is_open_at(store, day, candidate))
            elif clock.hour < 8:
                clock = clock.replace(hour=clock.hour + 12)
        value = clock.strftime("%H:%M")
        return {TIME: value} if value != tracker.get_slot(TIME) else {}

    def validate_booking_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value and not str(value).startswith(INVALID):
            return accept(TIME, value)
        return reject(dispatcher, tracker, TIME, "utter_booking_time_unclear")

    # ---- hotel nights
    async def extract_booking_nights(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot(BUSINESS) != "hotel":
            return {}
        text = _text(tracker)
        nights = datetimes.parse_nights(text)
        if nights is None and _is_answer(tracker, NIGHTS):
            when = datetimes.parse_when(text, datetimes.now())
            check_in = tracker.get_slot(DATE)
            if when.day is not None and check_in and not check_in.startswith(INVALID):
                nights = (when.day - date.fromisoformat(check_in)).days  # the check-out date
            elif re.fullmatch(r"\s*\d{1,2}\s*", text):
                nights = int(text)
            else:
                return {NIGHTS: INVALID}
        return {NIGHTS: str(nights)} if nights is not None else {}

    def validate_booking_nights(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        limit = get_booking_policy().business("hotel").max_nights or 30
        try:
            nights = int(str(value))
        except ValueError:
            return reject(dispatcher, tracker, NIGHTS, "utter_booking_nights_unclear")
        if not 1 <= nights <= limit:
            return reject(dispatcher, tracker, NIGHTS, "utter_booking_nights_out_of_range", limit=limit)
        return accept(NIGHTS, str(nights))

    # ---- party size (restaurant covers, hotel guests)
    async def extract_party_size(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot(BUSINESS) not in ("restaurant", "hotel"):
            return {}
        text = correction_tail(_text(tracker))
        said = find_party_size(text)
        if said is not None:
            return {PARTY: str(said)} if str(said) != tracker.get_slot(PARTY) else {}
        if not _is_answer(tracker, PARTY):
            return {}
        count = parse_count(text)
        return {PARTY: str(count) if count is not None else INVALID}

    def validate_party_size(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        count = parse_count(str(value or "")) if not str(value).startswith(INVALID) else None
        if count is None:
            return reject(dispatcher, tracker, PARTY, "utter_booking_party_unclear")
        business = tracker.get_slot(BUSINESS)
        if business in ("restaurant", "hotel"):
            policy = get_booking_policy().business(business)
            if policy.max_party_size is not None and count > policy.max_party_size:
                return reject(
                    dispatcher, tracker, PARTY, "utter_booking_problem_party_too_large", limit=policy.max_party_size
                )
        return accept(PARTY, str(count))

    # ---- car plate
    async def extract_booking_plate(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot(BUSINESS) != "car_care":
            return {}
        plate, attempted = find_plate(_text(tracker))
        if plate:
            return {PLATE: plate} if plate != tracker.get_slot(PLATE) else {}
        return {PLATE: INVALID} if attempted or _is_answer(tracker, PLATE) else {}

    def validate_booking_plate(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value and not str(value).startswith(INVALID):
            return accept(PLATE, value)
        return reject(dispatcher, tracker, PLATE, "utter_booking_plate_invalid")

    # ---- contact (unidentified customers only)
    async def extract_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _text(tracker)
        mobile = find_mobile(text)
        if mobile:
            return {PHONE: mobile}
        if _is_answer(tracker, PHONE) or (tracker.get_slot(REQUESTED_SLOT) == PHONE and looks_like_phone_attempt(text)):
            return {PHONE: INVALID + re.sub(r"\D", "", text)}
        return {}

    async def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        mobile, events = self.reject_mobile(value, dispatcher, tracker)
        if mobile is None:
            return events
        known = await in_read_only_session(customer_service.find_customer_by_mobile, mobile=mobile)
        return {**accept(PHONE, mobile), NEW_CUSTOMER: known is None}

    async def extract_booking_name(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        said = find_name(_text(tracker))
        if said and said != tracker.get_slot(NAME):
            return {NAME: said}
        if not _is_answer(tracker, NAME):
            return {}
        text = _text(tracker).strip()
        for prefix in get_booking_policy().name_prefixes:
            text = text.removeprefix(prefix)
        return {NAME: text.strip() if 1 <= len(text.strip()) <= 16 and not re.search(r"\d", text) else INVALID}

    def validate_booking_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value and not str(value).startswith(INVALID):
            return accept(NAME, value)
        return reject(dispatcher, tracker, NAME, "utter_booking_name_invalid")

    # ---- confirmation
    async def extract_booking_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _confirmation(tracker, domain)


class ActionAskBookingStore(Action):
    """Runs when booking_form asks which store: the stores of the business as buttons, the customer's city first."""

    def name(self) -> str:
        return "action_ask_booking_store"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        stores = await _business_stores(tracker.get_slot(BUSINESS))
        aliases = get_booking_policy().store_aliases
        buttons = [
            {"title": store.name, "payload": (aliases.get(store.code) or [store.district])[0]} for store in stores
        ]
        dispatcher.utter_message(response="utter_ask_booking_store", buttons=buttons)
        return []


class ActionAskBookingService(Action):
    """Runs when booking_form asks which service (car care, tailoring) or room type (hotel), as buttons."""

    def name(self) -> str:
        return "action_ask_booking_service"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        business = tracker.get_slot(BUSINESS)
        names = await in_read_only_session(booking_service.service_names, business_code=business)
        buttons = [
            {"title": names.get(code, words[0]), "payload": words[0]} for code, words in _aliases(business).items()
        ]
        dispatcher.utter_message(response=f"utter_ask_booking_service_{business}", buttons=buttons)
        return []


async def _describe(tracker: Tracker, draft: booking_service.BookingDraft) -> dict[str, Any]:
    store = await in_read_only_session(store_service.get_store, code=draft.store_code)
    names = await in_read_only_session(booking_service.service_names, business_code=draft.business_code)
    wording = get_booking_policy().wording
    area = wording.areas.get(draft.area or "", "")
    if draft.area == "private_room":  # the room the party gets, and its minimum spend
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
        "when": format_moment(draft.start_at, with_clock=draft.business_code != "hotel"),
        "nights": draft.nights,
        "checkout": checkout,
        "party": draft.party_size,
        "area": area,
        "plate": draft.plate_number,
        "mobile": tracker.get_slot(PHONE),
    }


class ActionAskBookingConfirm(Action):
    """Runs when booking_form has everything: summarises the booking and asks to confirm."""

    def name(self) -> str:
        return "action_ask_booking_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        draft = _draft(tracker)
        if draft is None:
            dispatcher.utter_message(response="utter_default")
            return []
        values = await _describe(tracker, draft)
        dispatcher.utter_message(response=f"utter_booking_summary_{draft.business_code}", **values)
        identified = _customer_id(tracker) is not None
        response = "utter_ask_booking_confirm" if identified else "utter_ask_booking_confirm_mobile"
        dispatcher.utter_message(response=response, **values)
        return []


def _reset(names: tuple[str, ...]) -> list[EventType]:
    return [SlotSet(name, None) for name in names] + [SlotSet(INVALID_ATTEMPTS, 0)]


class ActionSubmitBooking(Action):
    """Runs when the customer confirmed the booking summary: writes the booking once and gives its number."""

    def name(self) -> str:
        return "action_submit_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        draft = _draft(tracker)
        if draft is None:
            dispatcher.utter_message(response="utter_default")
            return _reset(BOOKING_SLOTS)
        customer_id = _customer_id(tracker)
        if customer_id is None:
            customer_id = await in_session(
                booking_service.find_or_create_customer,
                mobile=tracker.get_slot(PHONE),
                name=tracker.get_slot(NAME) or "",
            )
        key = booking_service.booking_idempotency_key(tracker.sender_id, draft)
        result = await in_session(
            booking_service.create_booking,
            draft=draft,
            customer_id=customer_id,
            idempotency_key=key,
            now=datetimes.now(),
        )
        if result.problem is not None:  # taken meanwhile: choose again
            _utter_problem(dispatcher, result.problem)
            slot = PROBLEM_SLOTS.get(result.problem.code, TIME)
            return [SlotSet(slot, None), SlotSet(CONFIRM, None), FollowupAction("booking_form")]
        if result.booking is None:
            dispatcher.utter_message(response="utter_default")
            return _reset(BOOKING_SLOTS)
        booking = result.booking
        dispatcher.utter_message(
            response="utter_booking_created",
            booking_number=booking.booking_number,
            store=booking.store_name,
            address=booking.store_address,
            phone=booking.store_phone,
            when=format_moment(booking.start_at, with_clock=booking.business_code != "hotel"),
        )
        return [*_reset(BOOKING_SLOTS), SlotSet(LAST_BOOKING, booking.booking_number)]


class ActionStopBooking(Action):
    """Runs when the customer abandons a booking, change or cancellation form: nothing is written."""

    def name(self) -> str:
        return "action_stop_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_booking_stopped")
        return _reset(BOOKING_SLOTS + MANAGE_SLOTS)


# ------------------------------------------------------------------------- modify, cancel, look up


async def _owned_booking(tracker: Tracker, number: str) -> booking_service.BookingOut | None:
    customer_id = _customer_id(tracker)
    mobile = tracker.get_slot(PHONE)
    if customer_id is None and not (mobile and find_mobile(str(mobile))):
        return None
    return await in_session(
        booking_service.get_booking,
        booking_number=number,
        customer_id=customer_id,
        mobile=None if customer_id is not None else mobile,
    )


def _describe_booking(booking: booking_service.BookingOut) -> dict[str, Any]:
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
        "when": format_moment(booking.start_at, with_clock=booking.business_code != "hotel"),
        "status": wording.statuses.get(booking.status, booking.status),
        "name": booking.masked_customer_name,
        "mobile": booking.masked_mobile,
    }


def _booking_button(booking: booking_service.BookingOut) -> dict[str, str]:
    values = _describe_booking(booking)
    line = get_booking_policy().wording.booking_line.format(
        number=booking.booking_number, **{key: values[key] for key in ("what", "when", "store")}
    )
    return {"title": line, "payload": booking.booking_number}


class _ValidateBookingLookup(MobileMixin, Form, ABC):
    """Shared by the forms that act on an existing booking: which booking, and is it the customer's."""

    @abstractmethod
    def name(self) -> str: ...

    def _needs_phone(self, tracker: Tracker) -> bool:
        return _customer_id(tracker) is None

    async def asked_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[str]:
        needed = [BOOKING_ID]
        if self._needs_phone(tracker):
            needed.append(PHONE)
        return needed

    async def extract_booking_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Cancel and modify ask for confirmation; booking_status never requires the slot, so never extracts it."""
        return _confirmation(tracker, domain)

    async def extract_booking_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = find_booking_number(_text(tracker))
        if number:
            return {BOOKING_ID: number} if number != tracker.get_slot(BOOKING_ID) else {}
        just_discussed = tracker.get_slot(LAST_BOOKING)
        if just_discussed and not tracker.get_slot(BOOKING_ID) and tracker.get_slot(REQUESTED_SLOT) is None:
            return {BOOKING_ID: just_discussed}  # "改到五点吧" / "帮我取消" right after a booking: that one
        customer_id = _customer_id(tracker)
        if customer_id is not None and not tracker.get_slot(BOOKING_ID) and tracker.get_slot(REQUESTED_SLOT) is None:
            upcoming = await in_session(
                booking_service.list_upcoming_bookings, customer_id=customer_id, now=datetimes.now()
            )
            if len(upcoming) == 1:  # "取消我的预约" with exactly one upcoming booking: that one
                return {BOOKING_ID: upcoming[0].booking_number}
        return {BOOKING_ID: INVALID} if _is_answer(tracker, BOOKING_ID) else {}

    async def validate_booking_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = find_booking_number(str(value or ""))
        if number is None:
            return reject(dispatcher, tracker, BOOKING_ID, "utter_booking_number_invalid")
        if _customer_id(tracker) is not None and await _owned_booking(tracker, number) is None:
            return reject(dispatcher, tracker, BOOKING_ID, "utter_booking_not_found")
        return accept(BOOKING_ID, number)

    async def extract_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        mobile = find_mobile(_text(tracker))
        if mobile:
            return {PHONE: mobile}
        return {PHONE: INVALID + re.sub(r"\D", "", _text(tracker))} if _is_answer(tracker, PHONE) else {}

    async def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        mobile, events = self.reject_mobile(value, dispatcher, tracker)
        if mobile is None:
            return events
        number = tracker.get_slot(BOOKING_ID)
        if number and not str(number).startswith(INVALID):
            owned = await in_session(booking_service.get_booking, booking_number=number, mobile=mobile)
            if owned is None:  # never say which of the two is wrong: that would reveal the booking
                return {**reject(dispatcher, tracker, PHONE, "utter_booking_mismatch"), BOOKING_ID: None}
        return accept(PHONE, mobile)


class ActionAskBookingId(Action):
    """Runs when a booking form asks which booking: an identified customer's upcoming bookings as buttons."""

    def name(self) -> str:
        return "action_ask_booking_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        customer_id = _customer_id(tracker)
        if customer_id is None:
            dispatcher.utter_message(response="utter_ask_booking_id_anonymous")
            return []
        upcoming = await in_session(
            booking_service.list_upcoming_bookings, customer_id=customer_id, now=datetimes.now()
        )
        if not upcoming:
            dispatcher.utter_message(response="utter_ask_booking_id_none_upcoming")
            return []
        buttons = [_booking_button(booking) for booking in upcoming[:MAX_LISTED_BOOKINGS]]
        dispatcher.utter_message(response="utter_ask_booking_id_choose", buttons=buttons)
        return []


class ValidateCancelBookingForm(_ValidateBookingLookup):
    """Runs on every turn of cancel_booking_form."""

    def name(self) -> str:
        return "validate_cancel_booking_form"

    async def asked_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[str]:
        return [*await super().asked_slots(dispatcher, tracker, domain), CONFIRM]


class ActionAskCancelConfirm(Action):
    """Runs when cancel_booking_form knows the booking: states it and the policy outcome, asks to confirm."""

    def name(self) -> str:
        return "action_ask_cancel_booking_form_booking_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        terms = await in_session(
            booking_service.cancellation_terms,
            booking_number=tracker.get_slot(BOOKING_ID),
            now=datetimes.now(),
            **_owner_kwargs(tracker),
        )
        if terms is None:
            dispatcher.utter_message(response="utter_booking_not_found")
            return [SlotSet(BOOKING_ID, None)]
        values = _describe_booking(terms.booking)
        if terms.already_cancelled:
            dispatcher.utter_message(response="utter_booking_already_cancelled", **values)
            return [SlotSet(CONFIRM, True)]
        response = "utter_ask_cancel_confirm_free" if terms.free else "utter_ask_cancel_confirm_fee"
        dispatcher.utter_message(
            response=response, fee=terms.fee_zh or "", free_until=format_moment(terms.free_until), **values
        )
        return []


def _owner_kwargs(tracker: Tracker) -> dict[str, Any]:
    customer_id = _customer_id(tracker)
    return {"customer_id": customer_id} if customer_id is not None else {"mobile": tracker.get_slot(PHONE)}


class ActionCancelBooking(Action):
    """Runs when the customer confirmed the cancellation: cancels (once) and states the policy outcome."""

    def name(self) -> str:
        return "action_cancel_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        result = await in_session(
            booking_service.cancel_booking,
            booking_number=tracker.get_slot(BOOKING_ID),
            now=datetimes.now(),
            **_owner_kwargs(tracker),
        )
        if result is None:
            dispatcher.utter_message(response="utter_booking_not_found")
        else:
            response = "utter_booking_cancelled_free" if result.free else "utter_booking_cancelled_fee"
            dispatcher.utter_message(response=response, fee=result.fee_zh or "", **_describe_booking(result.booking))
            return [*_reset(MANAGE_SLOTS), SlotSet(LAST_BOOKING, result.booking.booking_number)]
        return _reset(MANAGE_SLOTS)


class ValidateModifyBookingForm(_ValidateBookingLookup):
    """Runs on every turn of modify_booking_form: which booking, what changes, and whether the store can take it."""

    def name(self) -> str:
        return "validate_modify_booking_form"

    async def asked_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[str]:
        return [*await super().asked_slots(dispatcher, tracker, domain), CHANGE, CONFIRM]

    async def extract_booking_change(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """What the customer wants changed, from any message: "改到五点吧" in the first one is kept, not asked again."""
        # Numbers and mobiles are not times: "改预约 YY2026…" names the booking, not a new day.
        text = correction_tail(_MANAGE_NUMBERS.sub(" ", _text(tracker)))
        if tracker.get_slot(REQUESTED_SLOT) == PHONE and find_mobile(_text(tracker)):
            return {}
        current = (
            json.loads(tracker.get_slot(CHANGE) or "{}")
            if not str(tracker.get_slot(CHANGE) or "").startswith(INVALID)
            else {}
        )
        change = dict(current)
        when = datetimes.parse_when(time_words(text), datetimes.now())
        if when.day is not None:
            change["date"] = when.day.isoformat()
        if when.clock is not None:
            clock = when.clock
            if when.hour_ambiguous and clock.hour < 8:
                clock = clock.replace(hour=clock.hour + 12)
            change["time"] = clock.strftime("%H:%M")
        added = _PARTY_ADDED.search(text)
        if added:
            count = parse_count(added.group(1) + "位")
            if count is not None:
                change["party_delta"] = int(change.get("party_delta", 0)) + count
        elif (said := find_party_size(text)) is not None:
            change["party_size"] = said
            change.pop("party_delta", None)
        rooms = match_alias(text, get_booking_policy().business("hotel").rooms)
        if rooms:
            change["service_code"] = rooms[0]
        nights = datetimes.parse_nights(text)
        if nights is not None:
            change["nights"] = nights
        if change != current:
            return {CHANGE: json.dumps(change, sort_keys=True)}
        return {CHANGE: INVALID} if _is_answer(tracker, CHANGE) or when.invalid else {}

    async def validate_booking_change(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not value or str(value).startswith(INVALID):
            return reject(dispatcher, tracker, CHANGE, "utter_booking_change_unclear")
        number = tracker.get_slot(BOOKING_ID)
        if not usable(number) or (self._needs_phone(tracker) and not usable(tracker.get_slot(PHONE))):
            return {CHANGE: value}  # said before we know which booking: checked when the summary is shown
        booking = await _owned_booking(tracker, number)
        if booking is None:
            return reject(dispatcher, tracker, BOOKING_ID, "utter_booking_not_found")
        changes = _changes(json.loads(value), booking)
        result = await in_session(
            booking_service.preview_booking_change,
            booking_number=booking.booking_number,
            now=datetimes.now(),
            changes=changes,
            **_owner_kwargs(tracker),
        )
        if result is not None and result.problem is not None:
            if result.problem.code == "not_modifiable":
                dispatcher.utter_message(response="utter_booking_not_modifiable", **_describe_booking(booking))
                dispatcher.utter_message(response="utter_offer_human")
                return {CHANGE: None}
            _utter_problem(dispatcher, result.problem)
            return {CHANGE: None, CONFIRM: None}
        return {**accept(CHANGE, value), CONFIRM: None}


def names_a_visit(text: str, entities: list[dict[str, Any]], now: datetime) -> bool:
    """True when the message asks for a visit in other words than NLU's `book` examples: a business or service
    and a day or time ("明天下午4点花果园精洗 贵A99887") or a booking verb ("想定制一套西装")."""
    names_business = any(entity.get("entity") in ("business", "service") for entity in entities)
    if not names_business:
        return False
    folded = normalize_text(text)
    if says_book(folded):
        return True
    when = datetimes.parse_when(time_words(folded), now)
    return when.day is not None or when.clock is not None


def names_a_change(text: str, now: datetime) -> bool:
    """True when the message names a new day, time or party size ("改到五点吧", "再加一个人")."""
    folded = normalize_text(text)
    when = datetimes.parse_when(time_words(folded), now)
    return (
        when.day is not None
        or when.clock is not None
        or _PARTY_ADDED.search(folded) is not None
        or find_party_size(folded) is not None
        or datetimes.parse_nights(folded) is not None
    )


_MANAGE_NUMBERS = re.compile(r"(?:YY|DD|TS)?\s*\d[\d\s\-]{9,}\d", re.IGNORECASE)
_PARTY_ADDED = re.compile(r"(?:再|多)?(?:加|多)\s*([0-9一二两三四五六七八九十]{1,3})\s*(?:个人|位|名|人)")


def _changes(change: dict[str, Any], booking: booking_service.BookingOut) -> dict[str, Any]:
    """Service-level changes from the slot: a new day and/or time combined with the booked ones."""
    local = _local(booking.start_at)
    result: dict[str, Any] = {key: change[key] for key in ("party_size", "service_code", "nights") if key in change}
    if "party_delta" in change and booking.party_size:
        result["party_size"] = booking.party_size + int(change["party_delta"])
    if "date" in change or "time" in change:
        day = date.fromisoformat(change["date"]) if "date" in change else local.date()
        clock = time.fromisoformat(change["time"]) if "time" in change else local.time()
        result["start_at"] = datetime.combine(day, clock, tzinfo=local_tz())
    return result


class ActionAskModifyConfirm(Action):
    """Runs when modify_booking_form knows the change: states the booking after the change and asks to confirm."""

    def name(self) -> str:
        return "action_ask_modify_booking_form_booking_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        booking = await _owned_booking(tracker, tracker.get_slot(BOOKING_ID))
        if booking is None:
            dispatcher.utter_message(response="utter_booking_not_found")
            return [SlotSet(BOOKING_ID, None)]
        result = await in_session(
            booking_service.preview_booking_change,
            booking_number=booking.booking_number,
            now=datetimes.now(),
            changes=_changes(json.loads(tracker.get_slot(CHANGE)), booking),
            **_owner_kwargs(tracker),
        )
        if result is None or result.problem is not None or result.booking is None:
            if result is not None and result.problem is not None:
                _utter_problem(dispatcher, result.problem)
            else:
                dispatcher.utter_message(response="utter_booking_change_unclear")
            return [SlotSet(CHANGE, None), SlotSet(REQUESTED_SLOT, CHANGE)]
        dispatcher.utter_message(response="utter_ask_modify_confirm", **_describe_booking(result.booking))
        return []


class ActionModifyBooking(Action):
    """Runs when the customer confirmed the change: applies it and confirms the booking as it is now."""

    def name(self) -> str:
        return "action_modify_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        booking = await _owned_booking(tracker, tracker.get_slot(BOOKING_ID))
        if booking is None:
            dispatcher.utter_message(response="utter_booking_not_found")
            return _reset(MANAGE_SLOTS)
        result = await in_session(
            booking_service.modify_booking,
            booking_number=booking.booking_number,
            now=datetimes.now(),
            changes=_changes(json.loads(tracker.get_slot(CHANGE)), booking),
            **_owner_kwargs(tracker),
        )
        if result is None or result.problem is not None or result.booking is None:
            if result is not None and result.problem is not None:
                _utter_problem(dispatcher, result.problem)
            return _reset(MANAGE_SLOTS)
        dispatcher.utter_message(response="utter_booking_modified", **_describe_booking(result.booking))
        return [*_reset(MANAGE_SLOTS), SlotSet(LAST_BOOKING, result.booking.booking_number)]


class ValidateBookingStatusForm(_ValidateBookingLookup):
    """Runs on every turn of booking_status_form: an identified customer without a number needs nothing more."""

    def name(self) -> str:
        return "validate_booking_status_form"

    async def asked_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[str]:
        if (
            _customer_id(tracker) is not None
            and not find_booking_number(_text(tracker))
            and not tracker.get_slot(BOOKING_ID)
        ):
            return []
        return await super().asked_slots(dispatcher, tracker, domain)

    async def extract_booking_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = find_booking_number(_text(tracker))
        if number:
            return {BOOKING_ID: number} if number != tracker.get_slot(BOOKING_ID) else {}
        return {BOOKING_ID: INVALID} if _is_answer(tracker, BOOKING_ID) else {}


class ActionBookingStatus(Action):
    """Runs after booking_status_form: tells what is booked (store, time, what, status)."""

    def name(self) -> str:
        return "action_booking_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        number = tracker.get_slot(BOOKING_ID)
        if number and not str(number).startswith(INVALID):
            booking = await _owned_booking(tracker, number)
            if booking is None:
                dispatcher.utter_message(response="utter_booking_not_found")
            else:
                dispatcher.utter_message(response="utter_booking_status", **_describe_booking(booking))
                return [SlotSet(BOOKING_ID, None), SlotSet(LAST_BOOKING, booking.booking_number)]
            return [SlotSet(BOOKING_ID, None)]
        customer_id = _customer_id(tracker)
        if customer_id is None:
            dispatcher.utter_message(response="utter_ask_booking_id_anonymous")
            return []
        upcoming = await in_session(
            booking_service.list_upcoming_bookings, customer_id=customer_id, now=datetimes.now()
        )
        if not upcoming:
            dispatcher.utter_message(response="utter_booking_none_upcoming")
            return []
        for booking in upcoming[:MAX_LISTED_BOOKINGS]:
            dispatcher.utter_message(response="utter_booking_status", **_describe_booking(booking))
        return [SlotSet(LAST_BOOKING, upcoming[0].booking_number)] if len(upcoming) == 1 else []
