"""Booking status: one booking by number (or the one just discussed), or an identified customer's upcoming ones."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import datetimes
from actions.bookings.describe import describe_booking, owned_booking
from actions.bookings.manage import ValidateBookingLookup
from actions.bookings.names import BOOKING_ID, LAST_BOOKING, MAX_LISTED_BOOKINGS
from actions.crm import in_session
from actions.forms import Turn, identified_customer_id, unusable, usable
from actions.normalize import find_booking_number
from crm.services import bookings as booking_service


class ValidateBookingStatusForm(ValidateBookingLookup):
    """Runs on every turn of booking_status_form: an identified customer without a number needs nothing more."""

    def name(self) -> str:
        return "validate_booking_status_form"

    async def asked_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[str]:
        if (
            identified_customer_id(tracker) is not None
            and not find_booking_number(Turn.of(tracker).text)
            and not tracker.get_slot(BOOKING_ID)
        ):
            return []
        return await super().asked_slots(dispatcher, tracker, domain)

    async def extract_booking_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = find_booking_number(Turn.of(tracker).text)
        if number:
            return {BOOKING_ID: number} if number != tracker.get_slot(BOOKING_ID) else {}
        return {BOOKING_ID: unusable()} if Turn.of(tracker).answers(BOOKING_ID) else {}


class ActionBookingStatus(Action):
    """Runs after booking_status_form: tells what is booked (store, time, what, status)."""

    def name(self) -> str:
        return "action_booking_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        number = tracker.get_slot(BOOKING_ID)
        if usable(number):
            booking = await owned_booking(tracker, number)
            if booking is None:
                dispatcher.utter_message(response="utter_booking_not_found")
            else:
                dispatcher.utter_message(response="utter_booking_status", **describe_booking(booking))
                return [SlotSet(BOOKING_ID, None), SlotSet(LAST_BOOKING, booking.booking_number)]
            return [SlotSet(BOOKING_ID, None)]
        customer_id = identified_customer_id(tracker)
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
            dispatcher.utter_message(response="utter_booking_status", **describe_booking(booking))
        return [SlotSet(LAST_BOOKING, upcoming[0].booking_number)] if len(upcoming) == 1 else []
