"""The rating question after an agent closes a handoff, and reading the answer (issue 8 §6).

A deterministic hub step, the same on every channel: the close route sends the question through the hub
(buttons on the web chat; a typed digit works everywhere), and the hub takes the customer's next message as
the rating when it is one ("5", "五星", "很满意", "4分 回复很快"), without asking Rasa. Anything else goes to
the bot as usual, so the bot's slots from before the handoff are still there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from api.texts import text
from crm.schemas import OutgoingMessage

BUTTON_PREFIX = "/csat_"  # a button payload (the web chat accepts "/..." payloads)
SCORES = (5, 4, 3, 2, 1)
_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
# Longest first, so "非常不满意" is not read as "满意".
_WORDS = (
    ("非常不满意", 1),
    ("很不满意", 1),
    ("不太满意", 2),
    ("不满意", 2),
    ("一般", 3),
    ("还行", 3),
    ("非常满意", 5),
    ("很满意", 5),
    ("满意", 4),
)
_SCORE = re.compile(r"^\s*([1-5１-５一二两三四五])\s*(?:星|分|颗星)?(?:[\s,，。.!！:：]+|$)")
_FULL_WIDTH = str.maketrans("１２３４５", "12345")


@dataclass(frozen=True)
class Rating:
    score: int
    comment: str | None


def question() -> OutgoingMessage:
    """The rating question with one button per score (the button's payload is read by `read_rating`)."""
    buttons = [{"title": text(f"csat_button_{score}"), "payload": f"{BUTTON_PREFIX}{score}"} for score in SCORES]
    return OutgoingMessage(text=text("csat_question"), payload={"buttons": buttons})


def is_rating_button(button_payload: str | None) -> bool:
    return bool(button_payload) and str(button_payload).startswith(BUTTON_PREFIX)


def read_rating(message_text: str, button_payload: str | None = None) -> Rating | None:
    """The rating in the customer's answer, with the rest of the message as an optional comment; None if the
    message is not a rating (e.g. a new question for the bot)."""
    if button_payload and button_payload.startswith(BUTTON_PREFIX):
        value = button_payload.removeprefix(BUTTON_PREFIX)
        if value.isdigit() and 1 <= int(value) <= 5:
            return Rating(int(value), None)
    raw = message_text.strip()
    match = _SCORE.match(raw)
    if match:
        digit = match.group(1).translate(_FULL_WIDTH)
        score = int(digit) if digit.isdigit() else _DIGITS[digit]
        return Rating(score, raw[match.end() :].strip() or None)
    for word, score in _WORDS:
        if raw.startswith(word):
            return Rating(score, raw[len(word) :].strip(" ，,。.!！") or None)
    return None
