"""Acting on an existing booking: which one (the one just discussed, the only upcoming one, a number, a
button), whether it is the requester's (one ownership rule: "not found" and "not yours" read the same),
then changing or cancelling it after a typed or pressed confirmation.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from datetime import date, datetime, time
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import datetimes
from actions.bookings.describe import (
    booking_button,
    describe_booking,
    format_moment,
    local,
    owned_booking,
    owner_kwargs,
    reset,
    utter_problem,
)
from actions.bookings.names import (
    BOOKING_ID,
    CHANGE,
    CONFIRM,
    LAST_BOOKING,
    MANAGE_SLOTS,
    MAX_LISTED_BOOKINGS,
    PHONE,
)
from actions.bookings.reading import (
    MANAGE_NUMBERS,
    PARTY_ADDED,
    changeable_services,
    find_party_size,
    time_words,
)
from actions.crm import in_session
from actions.forms import (
    REQUESTED_SLOT,
    Form,
    MobileMixin,
    Turn,
    accept,
    confirmation_answer,
    correction_tail,
    identified_customer_id,
    is_unusable,
    new_value,
    reject,
    unusable,
    usable,
)
from actions.normalize import find_booking_number, find_mobile, parse_count
from crm.services import bookings as booking_service
from crm.services.bookings.policy import local_tz, match_alias


def change_of(value: object) -> dict[str, Any] | None:
    """The change the `booking_change` slot holds (JSON), or None when it holds none or an unusable answer."""
    if not usable(value) or is_unusable(value):
        return None
    try:
        change = json.loads(str(value))
    except ValueError:
        return None
    return change if isinstance(change, dict) else None


class ValidateBookingLookup(MobileMixin, Form, ABC):
    """Shared by the forms that act on an existing booking: which booking, and is it the customer's."""

    @abstractmethod
    def name(self) -> str: ...

    def _needs_phone(self, tracker: Tracker) -> bool:
        return identified_customer_id(tracker) is None

    async def asked_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[str]:
        needed = [BOOKING_ID]
        if self._needs_phone(tracker):
            needed.append(PHONE)
        return needed

    async def extract_booking_confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Cancel and modify ask for confirmation; booking_status never requires the slot, so never extracts it."""
        return confirmation_answer(tracker, domain, CONFIRM)

    async def extract_booking_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = find_booking_number(Turn.of(tracker).text)
        if number:
            return new_value(tracker, BOOKING_ID, number)
        just_discussed = tracker.get_slot(LAST_BOOKING)
        if just_discussed and not tracker.get_slot(BOOKING_ID) and tracker.get_slot(REQUESTED_SLOT) is None:
            return {BOOKING_ID: just_discussed}  # "改到五点吧" / "帮我取消" right after a booking: that one
        customer_id = identified_customer_id(tracker)
        if customer_id is not None and not tracker.get_slot(BOOKING_ID) and tracker.get_slot(REQUESTED_SLOT) is None:
            upcoming = await in_session(
                booking_service.list_upcoming_bookings, customer_id=customer_id, now=datetimes.now()
            )
            if len(upcoming) == 1:  # "取消我的预约" with exactly one upcoming booking: that one
                return {BOOKING_ID: upcoming[0].booking_number}
        return {BOOKING_ID: unusable()} if Turn.of(tracker).answers(BOOKING_ID) else {}

    async def validate_booking_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = find_booking_number(str(value or ""))
        if number is None:
            return reject(dispatcher, tracker, BOOKING_ID, "utter_booking_number_invalid")
        if identified_customer_id(tracker) is not None and await owned_booking(tracker, number) is None:
            return reject(dispatcher, tracker, BOOKING_ID, "utter_booking_not_found")
        return accept(BOOKING_ID, number)

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
        number = tracker.get_slot(BOOKING_ID)
        if usable(number):
            owned = await in_session(booking_service.get_booking, booking_number=number, mobile=mobile)
            if owned is None:  # never say which of the two is wrong: that would reveal the booking
                return {**reject(dispatcher, tracker, PHONE, "utter_booking_mismatch"), BOOKING_ID: None}
        return accept(PHONE, mobile)


class ActionAskBookingId(Action):
    """Runs when a booking form asks which booking: an identified customer's upcoming bookings as buttons."""

    def name(self) -> str:
        return "action_ask_booking_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        customer_id = identified_customer_id(tracker)
        if customer_id is None:
            dispatcher.utter_message(response="utter_ask_booking_id_anonymous")
            return []
        upcoming = await in_session(
            booking_service.list_upcoming_bookings, customer_id=customer_id, now=datetimes.now()
        )
        if not upcoming:
            dispatcher.utter_message(response="utter_ask_booking_id_none_upcoming")
            return []
        buttons = [booking_button(booking) for booking in upcoming[:MAX_LISTED_BOOKINGS]]
        dispatcher.utter_message(response="utter_ask_booking_id_choose", buttons=buttons)
        return []


class ValidateCancelBookingForm(ValidateBookingLookup):
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
            **owner_kwargs(tracker),
        )
        if terms is None:
            dispatcher.utter_message(response="utter_booking_not_found")
            return [SlotSet(BOOKING_ID, None)]
        values = describe_booking(terms.booking)
        if terms.already_cancelled:
            dispatcher.utter_message(response="utter_booking_already_cancelled", **values)
            return [SlotSet(CONFIRM, True)]
        response = "utter_ask_cancel_confirm_free" if terms.free else "utter_ask_cancel_confirm_fee"
        dispatcher.utter_message(
            response=response, fee=terms.fee_zh or "", free_until=format_moment(terms.free_until), **values
        )
        return []


class ActionCancelBooking(Action):
    """Runs when the customer confirmed the cancellation: cancels (once) and states the policy outcome."""

    def name(self) -> str:
        return "action_cancel_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        result = await in_session(
            booking_service.cancel_booking,
            booking_number=tracker.get_slot(BOOKING_ID),
            now=datetimes.now(),
            **owner_kwargs(tracker),
        )
        if result is None:
            dispatcher.utter_message(response="utter_booking_not_found")
        else:
            response = "utter_booking_cancelled_free" if result.free else "utter_booking_cancelled_fee"
            dispatcher.utter_message(response=response, fee=result.fee_zh or "", **describe_booking(result.booking))
            return [*reset(MANAGE_SLOTS), SlotSet(LAST_BOOKING, result.booking.booking_number)]
        return reset(MANAGE_SLOTS)


class ValidateModifyBookingForm(ValidateBookingLookup):
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
        text = correction_tail(MANAGE_NUMBERS.sub(" ", Turn.of(tracker).text))
        if tracker.get_slot(REQUESTED_SLOT) == PHONE and find_mobile(Turn.of(tracker).text):
            return {}
        current = change_of(tracker.get_slot(CHANGE)) or {}
        change = dict(current)
        when = datetimes.parse_when(time_words(text), datetimes.now())
        if when.day is not None:
            change["date"] = when.day.isoformat()
        if when.clock is not None:
            clock = when.clock
            if when.hour_ambiguous and clock.hour < 8:
                clock = clock.replace(hour=clock.hour + 12)
            change["time"] = clock.strftime("%H:%M")
        added = PARTY_ADDED.search(text)
        if added:
            count = parse_count(added.group(1) + "位")
            if count is not None:
                change["party_delta"] = int(change.get("party_delta", 0)) + count
        elif (said := find_party_size(text)) is not None:
            change["party_size"] = said
            change.pop("party_delta", None)
        rooms = match_alias(text, changeable_services())
        if rooms:
            change["service_code"] = rooms[0]
        nights = datetimes.parse_nights(text)
        if nights is not None:
            change["nights"] = nights
        if change != current:
            return {CHANGE: json.dumps(change, sort_keys=True)}
        return {CHANGE: unusable()} if Turn.of(tracker).answers(CHANGE) or when.invalid else {}

    async def validate_booking_change(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        change = change_of(value)
        if not change:
            return reject(dispatcher, tracker, CHANGE, "utter_booking_change_unclear")
        number = tracker.get_slot(BOOKING_ID)
        if not usable(number) or (self._needs_phone(tracker) and not usable(tracker.get_slot(PHONE))):
            return {CHANGE: value}  # said before we know which booking: checked when the summary is shown
        booking = await owned_booking(tracker, number)
        if booking is None:
            return reject(dispatcher, tracker, BOOKING_ID, "utter_booking_not_found")
        changes = _changes(change, booking)
        result = await in_session(
            booking_service.preview_booking_change,
            booking_number=booking.booking_number,
            now=datetimes.now(),
            changes=changes,
            **owner_kwargs(tracker),
        )
        if result is not None and result.problem is not None:
            if result.problem.code == "not_modifiable":
                dispatcher.utter_message(response="utter_booking_not_modifiable", **describe_booking(booking))
                dispatcher.utter_message(response="utter_offer_human")
                return {CHANGE: None}
            utter_problem(dispatcher, result.problem, booking.business_code)
            return {CHANGE: None, CONFIRM: None}
        return {**accept(CHANGE, value), CONFIRM: None}


def _changes(change: dict[str, Any], booking: booking_service.BookingOut) -> dict[str, Any]:
    """Service-level changes from the slot: a new day and/or time combined with the booked ones."""
    booked = local(booking.start_at)
    result: dict[str, Any] = {key: change[key] for key in ("party_size", "service_code", "nights") if key in change}
    if "party_delta" in change and booking.party_size:
        result["party_size"] = booking.party_size + int(change["party_delta"])
    if "date" in change or "time" in change:
        day = date.fromisoformat(change["date"]) if "date" in change else booked.date()
        clock = time.fromisoformat(change["time"]) if "time" in change else booked.time()
        result["start_at"] = datetime.combine(day, clock, tzinfo=local_tz())
    return result


class ActionAskModifyConfirm(Action):
    """Runs when modify_booking_form knows the change: states the booking after the change and asks to confirm."""

    def name(self) -> str:
        return "action_ask_modify_booking_form_booking_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        booking = await owned_booking(tracker, tracker.get_slot(BOOKING_ID))
        if booking is None:  # gone, or no longer the requester's, since it was chosen
            dispatcher.utter_message(response="utter_booking_not_found")
            return [SlotSet(BOOKING_ID, None)]
        change = change_of(tracker.get_slot(CHANGE))
        result = None
        if change:
            result = await in_session(
                booking_service.preview_booking_change,
                booking_number=booking.booking_number,
                now=datetimes.now(),
                changes=_changes(change, booking),
                **owner_kwargs(tracker),
            )
        if result is None or result.problem is not None or result.booking is None:
            if result is not None and result.problem is not None:
                utter_problem(dispatcher, result.problem, booking.business_code)
            else:
                dispatcher.utter_message(response="utter_booking_change_unclear")
            return [SlotSet(CHANGE, None), SlotSet(REQUESTED_SLOT, CHANGE)]
        dispatcher.utter_message(response="utter_ask_modify_confirm", **describe_booking(result.booking))
        return []


class ActionModifyBooking(Action):
    """Runs when the customer confirmed the change: applies it and confirms the booking as it is now.

    The booking may have changed since the summary (cancelled elsewhere, past its deadline): the customer
    then hears why, never an error.
    """

    def name(self) -> str:
        return "action_modify_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        booking = await owned_booking(tracker, tracker.get_slot(BOOKING_ID))
        change = change_of(tracker.get_slot(CHANGE))
        if booking is None or not change:
            dispatcher.utter_message(
                response="utter_booking_not_found" if booking is None else "utter_booking_change_unclear"
            )
            return reset(MANAGE_SLOTS)
        result = await in_session(
            booking_service.modify_booking,
            booking_number=booking.booking_number,
            now=datetimes.now(),
            changes=_changes(change, booking),
            **owner_kwargs(tracker),
        )
        if result is None:
            dispatcher.utter_message(response="utter_booking_not_found")
            return reset(MANAGE_SLOTS)
        if result.problem is not None or result.booking is None:
            if result.problem is not None and result.problem.code == "not_modifiable":
                dispatcher.utter_message(response="utter_booking_not_modifiable", **describe_booking(booking))
            elif result.problem is not None:
                utter_problem(dispatcher, result.problem, booking.business_code)
            return reset(MANAGE_SLOTS)
        dispatcher.utter_message(response="utter_booking_modified", **describe_booking(result.booking))
        return [*reset(MANAGE_SLOTS), SlotSet(LAST_BOOKING, result.booking.booking_number)]
