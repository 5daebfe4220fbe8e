"""The booking form: book a visit of any business in policy/bookings.yml, asking only what its kind needs.

Free text is read by `extract_<slot>` methods for every slot the form still needs (actions/forms.py), so
details come in any order and corrections ("改成四点半", "不是这家，是花果园那家") work at any step; values that
cannot be used are explained and asked again. Which slots a business asks, in what order, which slot is
asked again after a problem and which responses it uses are data (policy/bookings.yml); nothing here
names a business.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import datetimes
from actions.bookings.describe import (
    business_slots,
    draft_of,
    is_open_at,
    reask_slot,
    utter_problem,
)
from actions.bookings.names import (
    AREA,
    BUSINESS,
    CONFIRM,
    DATE,
    NAME,
    NEW_CUSTOMER,
    NIGHTS,
    PARTY,
    PHONE,
    PLATE,
    SERVICE,
    STORE,
    TIME,
)
from actions.bookings.reading import (
    find_business,
    find_name,
    find_party_size,
    find_plate,
    match_store,
    split_until,
    time_words,
)
from actions.crm import in_read_only_session
from actions.forms import (
    INVALID_ATTEMPTS,
    REQUESTED_SLOT,
    Form,
    MobileMixin,
    Turn,
    accept,
    confirmation_answer,
    correction_tail,
    identified_customer_id,
    new_value,
    reject,
    unusable,
    unusable_detail,
    usable,
)
from actions.normalize import parse_count
from crm.schemas import StoreOut
from crm.services import bookings as booking_service
from crm.services import customers as customer_service
from crm.services import stores as store_service
from crm.services.bookings.policy import KindPolicy, get_booking_policy, match_alias

MAX_NIGHTS = 30  # when a business sets no max_nights


def _kind(tracker: Tracker) -> KindPolicy | None:
    business = tracker.get_slot(BUSINESS)
    policy = get_booking_policy()
    return policy.kind_of(business) if policy.knows(business) else None


async def business_stores(business: str) -> list[StoreOut]:
    return await in_read_only_session(store_service.list_stores, business_code=business)


async def all_stores() -> list[StoreOut]:
    return await in_read_only_session(store_service.list_stores)


async def _store_of(tracker: Tracker) -> StoreOut | None:
    code = tracker.get_slot(STORE)
    if not usable(code):
        return None
    return await in_read_only_session(store_service.get_store, code=code)


class ValidateBookingForm(MobileMixin, Form):
    """Runs on every turn of booking_form: reads answers and corrections, checks them and the store's calendar."""

    def name(self) -> str:
        return "validate_booking_form"

    def read_anytime(self, tracker: Tracker) -> list[str]:
        # A surname said early ("5个人，姓李") is kept for when the name is needed.
        return [NAME] if identified_customer_id(tracker) is None else []

    async def asked_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[str]:
        # The first message may name the business and its details at once ("想洗个车", "订个包间…"): read
        # them all in that same turn, not only the business.
        business = tracker.get_slot(BUSINESS) or find_business(
            Turn.of(tracker).text, list(tracker.get_latest_entity_values(BUSINESS))
        )
        needed = [BUSINESS, *(business_slots(business) or [DATE, TIME, PARTY])]
        if identified_customer_id(tracker) is None:
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
        draft = draft_of(tracker, complete=False)
        if draft is None or tracker.get_slot(CONFIRM):
            return events
        problem = await in_read_only_session(booking_service.check_booking, draft=draft, now=datetimes.now())
        if problem is None:
            return events
        utter_problem(dispatcher, problem, draft.business_code)
        return [*events, SlotSet(reask_slot(draft.business_code, problem), None), SlotSet(CONFIRM, None)]

    # ---- business
    async def extract_business(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if tracker.get_slot(BUSINESS):
            return {}
        business = find_business(Turn.of(tracker).text, list(tracker.get_latest_entity_values(BUSINESS)))
        if business:
            return {BUSINESS: business}
        return {BUSINESS: unusable()} if Turn.of(tracker).answers(BUSINESS) else {}

    def validate_business(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if get_booking_policy().knows(value):
            return accept(BUSINESS, value)
        return reject(dispatcher, tracker, BUSINESS, "utter_booking_business_unknown")

    # ---- store
    async def extract_booking_store(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        business = tracker.get_slot(BUSINESS)
        if STORE not in business_slots(business):
            return {}
        stores = await business_stores(business)
        if len(stores) == 1:
            return {STORE: stores[0].code} if not tracker.get_slot(STORE) else {}
        matched = match_store(Turn.of(tracker).text, stores)
        if len(matched) == 1:
            return new_value(tracker, STORE, matched[0].code)
        if Turn.of(tracker).answers(STORE):
            # "春熙路那家" for a hotel: a place where the group has another business, not a hotel.
            named = match_store(Turn.of(tracker).text, await all_stores())
            elsewhere = [store for store in named if store not in stores]
            return {STORE: unusable(elsewhere[0].code if len(elsewhere) == 1 else "")}
        return {}

    async def validate_booking_store(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if usable(value):
            return accept(STORE, value)
        named = unusable_detail(value)
        other = await in_read_only_session(store_service.get_store, code=named) if named else None
        if other is not None:
            ours = await business_stores(tracker.get_slot(BUSINESS))
            near = [store.name for store in ours if store.city == other.city] or [store.name for store in ours]
            return reject(
                dispatcher,
                tracker,
                STORE,
                "utter_booking_store_other_business",
                store=other.name,
                ours=get_booking_policy().wording.list_separator.join(near),
            )
        return reject(dispatcher, tracker, STORE, "utter_booking_store_unknown")

    # ---- service / room type
    async def extract_booking_service(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        business = tracker.get_slot(BUSINESS)
        if SERVICE not in business_slots(business):
            return {}
        codes = match_alias(Turn.of(tracker).text, get_booking_policy().business(business).services)
        if codes:
            return new_value(tracker, SERVICE, codes[0])
        return {SERVICE: unusable()} if Turn.of(tracker).answers(SERVICE) else {}

    def validate_booking_service(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if usable(value):
            return accept(SERVICE, value)
        response = get_booking_policy().response(tracker.get_slot(BUSINESS), "booking_service_unknown")
        return reject(dispatcher, tracker, SERVICE, response)

    # ---- restaurant area
    async def extract_booking_area(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        business = tracker.get_slot(BUSINESS)
        if AREA not in business_slots(business):
            return {}
        codes = match_alias(Turn.of(tracker).text, get_booking_policy().business(business).areas)
        if codes:
            return new_value(tracker, AREA, codes[0])
        return {AREA: unusable()} if Turn.of(tracker).answers(AREA) else {}

    def validate_booking_area(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        business = tracker.get_slot(BUSINESS)
        if AREA in business_slots(business) and value in get_booking_policy().business(business).areas:
            return accept(AREA, value)
        return reject(dispatcher, tracker, AREA, "utter_booking_area_unknown")

    # ---- date and time
    async def extract_booking_date(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        turn = Turn.of(tracker)
        kind = _kind(tracker)
        text, _until = split_until(turn.text, kind.until_words if kind else [])
        from_words = kind.from_words if kind else []
        if turn.requested_slot == NIGHTS and usable(tracker.get_slot(DATE)) and not any(w in text for w in from_words):
            return {}  # "后天" when asked how long: the check-out day (extract_booking_nights), not a new check-in
        when = datetimes.parse_when(time_words(text), datetimes.now())
        asked = tracker.get_slot(REQUESTED_SLOT) in (DATE, TIME) and turn.is_answer()
        if when.invalid:
            return {DATE: unusable(when.invalid)}
        if when.day is not None:
            return new_value(tracker, DATE, when.day.isoformat())
        if asked and when.clock is None and tracker.get_slot(REQUESTED_SLOT) == DATE:
            return {DATE: unusable("unparsed")}
        return {}

    def validate_booking_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        if text in (unusable("month"), unusable("day")):
            return reject(dispatcher, tracker, DATE, "utter_booking_date_impossible")
        if not usable(text):
            return reject(dispatcher, tracker, DATE, "utter_booking_date_unclear")
        if date.fromisoformat(text) < datetimes.now().date():
            return reject(dispatcher, tracker, DATE, "utter_booking_date_past")
        return accept(DATE, text)

    async def extract_booking_time(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if TIME not in business_slots(tracker.get_slot(BUSINESS)):
            return {}  # a stay is booked by the day
        moment = datetimes.now()
        when = datetimes.parse_when(time_words(Turn.of(tracker).text), moment)
        if when.clock is None:
            if Turn.of(tracker).answers(TIME) and when.day is None and not when.invalid:
                return {TIME: unusable("unparsed")}
            return {}
        clock = when.clock
        if when.hour_ambiguous:
            store = await _store_of(tracker)
            day_text = tracker.get_slot(DATE)
            day = when.day or (date.fromisoformat(day_text) if usable(day_text) else moment.date())
            if store is not None:
                clock = datetimes.resolve_hour(day, clock, lambda candidate: is_open_at(store, day, candidate))
            elif clock.hour < 8:
                clock = clock.replace(hour=clock.hour + 12)
        value = clock.strftime("%H:%M")
        return new_value(tracker, TIME, value)

    def validate_booking_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if usable(value):
            return accept(TIME, value)
        return reject(dispatcher, tracker, TIME, "utter_booking_time_unclear")

    # ---- hotel nights
    async def extract_booking_nights(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if NIGHTS not in business_slots(tracker.get_slot(BUSINESS)):
            return {}
        text = Turn.of(tracker).text
        kind = _kind(tracker)
        _rest, until = split_until(text, kind.until_words if kind else [])
        nights = datetimes.parse_nights(text)
        check_in = tracker.get_slot(DATE)  # read earlier in this same turn when the message names it
        if nights is None and until is not None and usable(check_in):
            when = datetimes.parse_when(until, datetimes.now())  # "后天退房": the check-out day, said unasked
            if when.day is not None:
                nights = (when.day - date.fromisoformat(check_in)).days
        if nights is None and Turn.of(tracker).answers(NIGHTS):
            when = datetimes.parse_when(text, datetimes.now())
            if when.day is not None and usable(check_in):
                nights = (when.day - date.fromisoformat(check_in)).days  # the check-out date
            elif re.fullmatch(r"\s*\d{1,2}\s*", text):
                nights = int(text)
            else:
                return {NIGHTS: unusable()}
        return {NIGHTS: str(nights)} if nights is not None else {}

    def validate_booking_nights(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        limit = get_booking_policy().business(tracker.get_slot(BUSINESS)).max_nights or MAX_NIGHTS
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
        if PARTY not in business_slots(tracker.get_slot(BUSINESS)):
            return {}
        text = correction_tail(Turn.of(tracker).text)
        said = find_party_size(text)
        if said is not None:
            return new_value(tracker, PARTY, str(said))
        if not Turn.of(tracker).answers(PARTY):
            return {}
        count = parse_count(text)
        return {PARTY: str(count) if count is not None else unusable()}

    def validate_party_size(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        count = parse_count(str(value)) if usable(value) else None
        if count is None:
            return reject(dispatcher, tracker, PARTY, "utter_booking_party_unclear")
        limit = get_booking_policy().business(tracker.get_slot(BUSINESS)).max_party_size
        if limit is not None and count > limit:
            return reject(dispatcher, tracker, PARTY, "utter_booking_problem_party_too_large", limit=limit)
        return accept(PARTY, str(count))

    # ---- car plate
    async def extract_booking_plate(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if PLATE not in business_slots(tracker.get_slot(BUSINESS)):
            return {}
        plate, attempted = find_plate(Turn.of(tracker).text)
        if plate:
            return new_value(tracker, PLATE, plate)
        return {PLATE: unusable()} if attempted or Turn.of(tracker).answers(PLATE) else {}

    def validate_booking_plate(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if usable(value):
            return accept(PLATE, value)
        return reject(dispatcher, tracker, PLATE, "utter_booking_plate_invalid")

    # ---- contact (unidentified customers only)
    async def extract_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self.read_mobile(tracker)

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
        said = find_name(Turn.of(tracker).text)
        if said and said != tracker.get_slot(NAME):
            return {NAME: said}
        if not Turn.of(tracker).answers(NAME):
            return {}
        text = Turn.of(tracker).text.strip()
        for prefix in get_booking_policy().name_prefixes:
            text = text.removeprefix(prefix)
        return {NAME: text.strip() if 1 <= len(text.strip()) <= 16 and not re.search(r"\d", text) else unusable()}

    def validate_booking_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if usable(value):
            return accept(NAME, value)
        return reject(dispatcher, tracker, NAME, "utter_booking_name_invalid")

    # ---- confirmation
    async def extract_booking_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return confirmation_answer(tracker, domain, CONFIRM)
