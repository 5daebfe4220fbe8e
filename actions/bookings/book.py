"""The booking form's questions with buttons, its summary, and what happens on yes or on stop: the booking is
written once (a retried confirmation finds the first one) or nothing is written."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import datetimes
from actions.bookings.describe import (
    describe_draft,
    draft_of,
    format_booked,
    reask_slot,
    reset,
    utter_problem,
)
from actions.bookings.form import business_stores
from actions.bookings.names import BOOKING_SLOTS, BUSINESS, CONFIRM, LAST_BOOKING, MANAGE_SLOTS, NAME, PHONE
from actions.crm import in_read_only_session, in_session
from actions.forms import identified_customer_id
from crm.services import bookings as booking_service
from crm.services.bookings.policy import get_booking_policy


class ActionAskBookingStore(Action):
    """Runs when booking_form asks which store: the stores of the business as buttons, the customer's city first."""

    def name(self) -> str:
        return "action_ask_booking_store"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        stores = await business_stores(tracker.get_slot(BUSINESS))
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
            {"title": names.get(code, words[0]), "payload": words[0]}
            for code, words in get_booking_policy().business(business).services.items()
        ]
        response = get_booking_policy().response(business, "ask_booking_service")
        dispatcher.utter_message(response=response, buttons=buttons)
        return []


class ActionAskBookingConfirm(Action):
    """Runs when booking_form has everything: summarises the booking and asks to confirm."""

    def name(self) -> str:
        return "action_ask_booking_confirm"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        draft = draft_of(tracker)
        if draft is None:
            dispatcher.utter_message(response="utter_default")
            return []
        values = await describe_draft(tracker, draft)
        summary = get_booking_policy().response(draft.business_code, "booking_summary")
        dispatcher.utter_message(response=summary, **values)
        identified = identified_customer_id(tracker) is not None
        response = "utter_ask_booking_confirm" if identified else "utter_ask_booking_confirm_mobile"
        dispatcher.utter_message(response=response, **values)
        return []


class ActionSubmitBooking(Action):
    """Runs when the customer confirmed the booking summary: writes the booking once and gives its number."""

    def name(self) -> str:
        return "action_submit_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        draft = draft_of(tracker)
        if draft is None:
            dispatcher.utter_message(response="utter_default")
            return reset(BOOKING_SLOTS)
        customer_id = identified_customer_id(tracker)
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
            utter_problem(dispatcher, result.problem, draft.business_code)
            slot = reask_slot(draft.business_code, result.problem)
            return [SlotSet(slot, None), SlotSet(CONFIRM, None), FollowupAction("booking_form")]
        if result.booking is None:
            dispatcher.utter_message(response="utter_default")
            return reset(BOOKING_SLOTS)
        booking = result.booking
        dispatcher.utter_message(
            response="utter_booking_created",
            booking_number=booking.booking_number,
            store=booking.store_name,
            address=booking.store_address,
            phone=booking.store_phone,
            when=format_booked(booking.start_at, booking.business_code),
        )
        return [*reset(BOOKING_SLOTS), SlotSet(LAST_BOOKING, booking.booking_number)]


class ActionStopBooking(Action):
    """Runs when the customer abandons a booking, change or cancellation form: nothing is written."""

    def name(self) -> str:
        return "action_stop_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_booking_stopped")
        return reset(BOOKING_SLOTS + MANAGE_SLOTS)


# ------------------------------------------------------------------------- modify, cancel, look up
