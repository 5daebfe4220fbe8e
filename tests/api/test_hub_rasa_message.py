"""What the hub sends Rasa for a customer message: typed text never acts as an intent, and no channel can
send Rasa's internal intents (typing "/restart" used to reset a verified customer's tracker)."""

from __future__ import annotations

import pytest

from api.hub.conversation_hub import InboundMessage, rasa_message_for


def inbound(text: str, payload: str | None = None) -> InboundMessage:
    return InboundMessage(channel="web", channel_user_id="anon:x", text=text, rasa_payload=payload)


@pytest.mark.parametrize(
    ("text", "sent"),
    [
        ("/restart", "／restart"),
        ('/order_status{"order_id": "DD202611280016"}', '／order_status{"order_id": "DD202611280016"}'),
        ("几点营业", "几点营业"),
        ("我要 /预约", "我要 /预约"),  # only a leading slash makes an intent
    ],
)
def test_typed_text_never_acts_as_an_intent(text: str, sent: str) -> None:
    assert rasa_message_for(inbound(text)) == sent


def test_a_buttons_payload_goes_to_rasa_as_it_is() -> None:
    payload = '/order_status{"order_id": "DD202611280016"}'
    assert rasa_message_for(inbound("DD202611280016 运输中", payload)) == payload


@pytest.mark.parametrize("payload", ["/restart", "/session_start", "/back", '/restart{"x": 1}', "/restart@0.9"])
def test_rasas_internal_intents_are_never_taken_from_a_channel(payload: str) -> None:
    assert rasa_message_for(inbound("重新开始", payload)) == "重新开始"
