"""Shared form behaviour: invalid answers are counted and a person is offered after the third."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import INVALID_ATTEMPTS, accept, reject
from tests.actions.conftest import TrackerFactory
from tests.actions.helpers import DOMAIN, slot_values


def test_third_invalid_answer_offers_a_person(make_tracker: TrackerFactory) -> None:
    dispatcher = CollectingDispatcher()
    first = reject(dispatcher, make_tracker(slots={INVALID_ATTEMPTS: 0}), "phone", "utter_invalid_phone")
    assert first == {"phone": None, INVALID_ATTEMPTS: 1}
    assert [m["response"] for m in dispatcher.messages] == ["utter_invalid_phone"]

    dispatcher = CollectingDispatcher()
    third = reject(dispatcher, make_tracker(slots={INVALID_ATTEMPTS: 2}), "phone", "utter_invalid_phone")
    assert third[INVALID_ATTEMPTS] == 3
    assert [m["response"] for m in dispatcher.messages] == ["utter_invalid_phone", "utter_offer_human"]


def test_a_valid_answer_resets_the_count() -> None:
    assert accept("phone", "13812345678") == {"phone": "13812345678", INVALID_ATTEMPTS: 0}


def _with_faq(tracker_: Tracker, key: str, confidence: float) -> Tracker:
    tracker_.latest_message["response_selector"] = {
        "faq": {
            "response": {"intent_response_key": f"faq/{key}", "confidence": confidence},
            "ranking": [{"intent_response_key": f"faq/{key}", "confidence": confidence}],
        }
    }
    return tracker_


async def test_a_question_mid_form_is_answered_from_the_faq_then_the_form_asks_again() -> None:
    from actions.bookings import ValidateBookingForm
    from tests.actions.test_bookings import tracker as booking_tracker

    asked = booking_tracker(
        "包间有最低消费吗", intent="inform", slots={"business": "restaurant"}, requested="booking_store"
    )
    dispatcher = CollectingDispatcher()
    events = await ValidateBookingForm().run(dispatcher, _with_faq(asked, "restaurant_private_room", 0.97), DOMAIN)
    assert any("最低消费" in (message.get("text") or "") for message in dispatcher.messages)
    assert slot_values(events).get("requested_slot") == "booking_store"  # the store is asked again


async def test_an_unsure_faq_or_a_flow_intent_is_not_answered_mid_form() -> None:
    from actions.bookings import ValidateBookingForm
    from tests.actions.test_bookings import tracker as booking_tracker

    for intent, confidence in (("inform", 0.05), ("complain", 0.99)):
        asked = booking_tracker(
            "包间有最低消费吗", intent=intent, slots={"business": "restaurant"}, requested="booking_store"
        )
        dispatcher = CollectingDispatcher()
        await ValidateBookingForm().run(dispatcher, _with_faq(asked, "restaurant_private_room", confidence), DOMAIN)
        assert not any(message.get("text") for message in dispatcher.messages), intent


async def test_a_question_nlu_calls_faq_takes_no_slot_and_is_answered() -> None:
    from actions.bookings import ValidateBookingForm
    from tests.actions.test_bookings import tracker as booking_tracker

    # Rasa's own entity mapping set `business` from "包间", so Rasa will not reject the form: the form answers.
    asked = booking_tracker(
        "包间有最低消费吗",
        intent="faq",
        slots={"business": "restaurant"},
        requested="booking_store",
        mapped={"business": "restaurant"},
    )
    dispatcher = CollectingDispatcher()
    events = await ValidateBookingForm().run(dispatcher, _with_faq(asked, "restaurant_private_room", 0.99), DOMAIN)
    assert "booking_area" not in slot_values(events)  # a question chooses nothing
    assert slot_values(events).get("requested_slot") == "booking_store"
    assert [message.get("text") for message in dispatcher.messages if "最低消费" in (message.get("text") or "")]
