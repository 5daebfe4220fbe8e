"""Shared form behaviour: invalid answers are counted and a person is offered after the third."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.forms import INVALID_ATTEMPTS, accept, reject
from tests.actions.conftest import TrackerFactory


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
