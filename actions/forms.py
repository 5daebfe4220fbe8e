"""The one form mechanism every form uses: how a turn is read, what counts as an answer, what is re-asked.

- `Turn`: one reading of the latest message (normalised text, intent, requested slot, who is asking).
- `UNUSABLE`: the one marker for "the customer answered this question, but the value cannot be used";
  it lives in the slot only until the slot's validator has explained the problem.
- `confirmation()`: typed confirmations (对 / 好的 / 就这样 / 确认取消 / 算了…) read like the buttons.
- `Form`: the base class. `asked_slots` says what the form asks for, in order; `read_anytime` adds slots
  that are read from any message although not asked (yet). Every extractor sees the whole message, so
  one message can fill several slots or correct an earlier one. A value that is not an answer to the
  question (the customer filled a different slot) is never reported as an invalid answer.
- `reject` / `accept`: the one re-ask rule (explain, ask again, offer a person from the third failure).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.faq import confident_answer
from actions.normalize import find_mobile, looks_like_phone_attempt, normalize_text

INVALID_ATTEMPTS = "invalid_attempts"
MAX_INVALID_ATTEMPTS = 3
REQUESTED_SLOT = "requested_slot"
UNUSABLE = "!"
DIALOGUE_POLICY = Path(__file__).resolve().parent.parent / "policy" / "dialogue.yml"

# The one rule for "is this message an answer": every intent is, except these two groups.
# Intents that interrupt any form: the form takes nothing from the message and a rule answers it (a form may
# add its own, e.g. the complaint form sends "where is my order" to the order lookup).
INTERRUPTIONS = frozenset({"faq", "request_human", "bot_challenge", "greet", "goodbye", "thank", "complaint_status"})
# Intents that do not interrupt but are no answer to the question asked: "不" / "算了" (read by the forms'
# cancel rules), and messages NLU could not place. A form whose slot takes free text (a complaint's
# description) reads them all the same.
NOT_ANSWERS = frozenset({"deny", "out_of_scope", "nlu_fallback", "leave_message"})
# Intents under which a question mid-form may be an FAQ NLU missed: not `faq` itself (its rule answers it),
# nor a flow's own intent ("这单怎么还没到，我要投诉" is a complaint, not a delivery-time question).
QUESTION_INTENTS = frozenset({"inform", "book", "out_of_scope", "nlu_fallback"})
FAQ_INTENT = "faq"


# ------------------------------------------------------------------------------ values and answers


def unusable(detail: object = "") -> str:
    """A value the customer gave for the asked slot that cannot be used (`detail` tells the validator why)."""
    return f"{UNUSABLE}{detail}"


def is_unusable(value: object) -> bool:
    return isinstance(value, str) and value.startswith(UNUSABLE)


def usable(value: object) -> bool:
    return value not in (None, "") and not is_unusable(value)


def unusable_detail(value: object) -> str:
    return str(value or "").removeprefix(UNUSABLE)


def slots_before_this_message(tracker: Tracker) -> dict[str, Any]:
    """Slot values before the latest customer message (Rasa's mappings re-set some slots from every one)."""
    users = [index for index, event in enumerate(tracker.events) if event.get("event") == "user"]
    values: dict[str, Any] = {}
    for event in tracker.events[: users[-1] if users else 0]:
        if event.get("event") == "slot":
            values[event["name"]] = event.get("value")
    return values


def identified_customer_id(tracker: Tracker) -> int | None:
    """The CRM customer the channel identified, or None for an anonymous visitor."""
    value = tracker.get_slot(slots.CUSTOMER_ID)
    if not tracker.get_slot(slots.CUSTOMER_IDENTIFIED) or value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Turn:
    """One reading of the latest message, shared by every extractor of a form."""

    text: str
    intent: str
    requested_slot: str | None
    customer_id: int | None

    @classmethod
    def of(cls, tracker: Tracker) -> Turn:
        return cls(
            text=normalize_text(tracker.latest_message.get("text") or ""),
            intent=(tracker.latest_message.get("intent") or {}).get("name") or "",
            requested_slot=tracker.get_slot(REQUESTED_SLOT),
            customer_id=identified_customer_id(tracker),
        )

    def interrupts(self, also: frozenset[str] = frozenset()) -> bool:
        """True when the message interrupts the form (`also`: intents that interrupt this form only)."""
        return self.intent in INTERRUPTIONS | also

    def is_answer(self) -> bool:
        """True when the message can be an answer to a form's question (neither an interruption nor a no)."""
        return bool(self.intent) and not self.interrupts(NOT_ANSWERS)

    def answers(self, slot: str) -> bool:
        """True when the message is an answer to the question for `slot` (asked, and no interruption)."""
        return self.requested_slot == slot and self.is_answer()

    def confirmation(self, domain: DomainDict | None = None) -> bool | None:
        return confirmation(self.text, self.intent, domain)


def confirmation_answer(tracker: Tracker, domain: DomainDict, slot: str) -> dict[str, Any]:
    """{slot: True} for a yes (typed or the button) to the confirmation question `slot` itself; {} otherwise."""
    turn = Turn.of(tracker)
    return {slot: True} if turn.requested_slot == slot and turn.confirmation(domain) else {}


def new_value(tracker: Tracker, slot: str, value: Any) -> dict[str, Any]:
    """{slot: value} when the message says something other than what the slot holds, {} for a repeat (which
    is no new answer: it neither re-runs the slot's checks nor resets the failure count)."""
    return {slot: value} if value != tracker.get_slot(slot) else {}


def last_asked_slot(tracker: Tracker) -> str | None:
    """The slot the form asked for last, even after a rule deactivated the form (requested_slot is reset then)."""
    for event in reversed(tracker.events):
        if event.get("event") == "slot" and event.get("name") == REQUESTED_SLOT and event.get("value"):
            return str(event["value"])
    return None


# ------------------------------------------------------------------------------ typed answers


class _Confirmation(BaseModel):
    affirm: list[str]
    deny: list[str]
    particles: list[str]


class _Corrections(BaseModel):
    markers: list[str]
    replacements: list[str]


class _WithoutNumber(BaseModel):
    negations: list[str]
    numbers: list[str]


class DialoguePolicy(BaseModel):
    confirmation: _Confirmation
    corrections: _Corrections
    just_discussed: list[str]
    cancel_words: list[str]
    booking_verbs: list[str]
    question_marks: list[str]
    without_number: _WithoutNumber


def points_at_what_was_discussed(text: str) -> bool:
    """ "这单" / "刚才那个" …: the customer means the order or booking just discussed."""
    return any(word in text for word in dialogue_policy().just_discussed)


def says_cancel(text: str) -> bool:
    """ "算了 取消吧" / "不去了": the message names cancelling (policy/dialogue.yml `cancel_words`)."""
    return any(word in text for word in dialogue_policy().cancel_words)


def asks_a_question(text: str) -> bool:
    """ "包间有最低消费吗" / "几点关门？": the message asks something (policy/dialogue.yml `question_marks`)."""
    return any(mark in text for mark in dialogue_policy().question_marks)


def says_book(text: str) -> bool:
    """ "定制" / "约个" …: the message uses a verb that asks for an appointment."""
    return any(word in text for word in dialogue_policy().booking_verbs)


def says_it_has_no_number(text: str) -> bool:
    """ "没有订单号" / "订单号忘了": a negation within a few characters of an order-number word."""
    words = dialogue_policy().without_number
    negation = "|".join(map(re.escape, sorted(words.negations, key=len, reverse=True)))
    number = "|".join(map(re.escape, sorted(words.numbers, key=len, reverse=True)))
    return re.search(rf"(?:{negation}).{{0,3}}(?:{number})|(?:{number}).{{0,3}}(?:{negation})", text) is not None


@lru_cache(maxsize=1)
def dialogue_policy() -> DialoguePolicy:
    return DialoguePolicy.model_validate(yaml.safe_load(DIALOGUE_POLICY.read_text(encoding="utf-8")))


_PUNCTUATION = re.compile(r"[\s,，.。!！?？~～、;；:：…'\"“”‘’()（）\[\]【】「」👌🙏😊]+")


def _fold(text: str) -> str:
    return _PUNCTUATION.sub("", normalize_text(text)).lower()


def _button_words(domain: DomainDict | None) -> tuple[frozenset[str], frozenset[str]]:
    """Titles of every /affirm and /deny button in the domain: typing a title means pressing it."""
    yes: set[str] = set()
    no: set[str] = set()
    for variants in (domain or {}).get("responses", {}).values():
        for variant in variants or []:
            for button in variant.get("buttons") or []:
                payload = str(button.get("payload", ""))
                if payload == "/affirm":
                    yes.add(_fold(str(button.get("title", ""))))
                elif payload == "/deny":
                    no.add(_fold(str(button.get("title", ""))))
    return frozenset(yes), frozenset(no)


def _made_of(text: str, words: set[str], particles: set[str]) -> bool:
    """True when `text` is a sequence of `words` (and particles), with at least one word."""
    if not text:
        return False
    ordered = sorted(words | particles, key=len, reverse=True)
    reachable: dict[int, bool] = {0: False}  # position -> a real word was used to get here
    for start in range(len(text)):
        if start not in reachable:
            continue
        for word in ordered:
            if word and text.startswith(word, start):
                end = start + len(word)
                reachable[end] = reachable.get(end, False) or reachable[start] or word in words
    return reachable.get(len(text), False)


def confirmation(text: str, intent: str = "", domain: DomainDict | None = None) -> bool | None:
    """True for a typed yes, False for a typed no, None when the message is something else."""
    policy = dialogue_policy().confirmation
    folded = _fold(text)
    button_yes, button_no = _button_words(domain)
    yes = {_fold(word) for word in policy.affirm} | button_yes
    no = {_fold(word) for word in policy.deny} | button_no
    particles = {_fold(word) for word in policy.particles}
    if folded in no or _made_of(folded, no, particles):
        return False
    if folded in yes or _made_of(folded, yes, particles):
        return True
    if not folded and intent == "affirm":  # a button press without text
        return True
    return None


def correction_tail(text: str) -> str:
    """'不是三点，是四点' -> '四点': what replaces the earlier value; the text itself when it is no correction."""
    corrections = dialogue_policy().corrections
    markers = "|".join(map(re.escape, corrections.markers))
    replacements = "|".join(map(re.escape, sorted(corrections.replacements, key=len, reverse=True)))
    match = re.search(rf"(?:{markers}).*?[,，。\s]\s*(?:{replacements})?(.+)$", text)
    if match and match.group(1).strip():
        return match.group(1).strip()
    return text


# ------------------------------------------------------------------------------ re-asking


def reject(
    dispatcher: CollectingDispatcher, tracker: Tracker, slot: str, response: str, **values: Any
) -> dict[str, Any]:
    """Explains what is wrong (`response`), asks again, and offers a person from the third failure on."""
    attempts = int(tracker.get_slot(INVALID_ATTEMPTS) or 0) + 1
    dispatcher.utter_message(response=response, **values)
    if attempts >= MAX_INVALID_ATTEMPTS:
        dispatcher.utter_message(response="utter_offer_human")
    return {slot: None, INVALID_ATTEMPTS: attempts}


def accept(slot: str, value: Any) -> dict[str, Any]:
    """A valid answer: keep it and reset the failure count."""
    return {slot: value, INVALID_ATTEMPTS: 0}


# ------------------------------------------------------------------------------ the base class


class Form(FormValidationAction, ABC):
    """A form whose extractors read the whole message for every slot it still needs."""

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    async def asked_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[str]:
        """The slots this form asks for, in the order it asks."""

    def read_anytime(self, tracker: Tracker) -> list[str]:
        """Slots read from any message of the form although they are not asked (yet)."""
        return []

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        asked = await self.asked_slots(dispatcher, tracker, domain)
        return asked + [slot for slot in self.read_anytime(tracker) if slot not in asked]

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventType | None:
        asked = await self.asked_slots(dispatcher, tracker, domain)
        return SlotSet(REQUESTED_SLOT, next((slot for slot in asked if tracker.slots.get(slot) is None), None))

    async def answer_a_question(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
        """A question asked mid-form is answered when the FAQ prediction clears the answer's threshold; the
        form then asks its own question again."""
        turn = Turn.of(tracker)
        if turn.intent not in QUESTION_INTENTS | {FAQ_INTENT} or not asks_a_question(turn.text):
            return
        answer = await confident_answer(tracker)
        if answer is not None:
            dispatcher.utter_message(text=answer)

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Extracts every slot; the asked slot's unusable marker is dropped when the message filled another one
        (through an extractor here or a mapping of Rasa's).

        "贵A12345" when the store was asked is the plate, not a wrong store: keep the plate, ask for the
        store again without calling the plate a bad store.
        """
        turn = Turn.of(tracker)
        if turn.intent == FAQ_INTENT and asks_a_question(turn.text):
            # "包间有最低消费吗": a question, not an answer, so no slot is taken from it. It is answered here
            # because an entity in it ("包间" -> business) may keep Rasa from rejecting the form, and then the
            # FAQ rule never runs; when Rasa does reject the form, this answer is dropped and the rule answers.
            await self.answer_a_question(dispatcher, tracker)
            return []
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        await self.answer_a_question(dispatcher, tracker)
        requested = tracker.get_slot(REQUESTED_SLOT)

        def fills_other(name: str, value: Any) -> bool:
            return name != requested and usable(value)

        filled_other = any(fills_other(e["name"], e["value"]) for e in events if e.get("event") == "slot")
        if not filled_other:
            # What Rasa's own slot mappings took from this message counts too ("13912345670" while the store
            # is asked: the phone entity set the mobile before this action ran, so no extractor reports it).
            before = slots_before_this_message(tracker)
            changed = [
                name
                for name, value in tracker.slots_to_validate().items()
                if fills_other(name, value) and value != before.get(name)
            ]
            if changed:  # only then the form's slots are worked out (again): most turns need not
                needed = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
                filled_other = any(name in needed for name in changed)
        if not filled_other:
            return events
        kept = [event for event in events if not (event.get("name") == requested and is_unusable(event.get("value")))]
        if len(kept) != len(events) and requested:
            tracker.slots[requested] = None
        return kept


# ------------------------------------------------------------------------------ mobiles


class MobileMixin:
    """The one way every form reads and checks a mobile: any spelling, and precise about a wrong length."""

    mobile_slot = "phone"

    def read_mobile(self, tracker: Tracker) -> dict[str, Any]:
        """The mobile in the message; an unusable marker (with the digits typed) when it was asked and is wrong."""
        turn = Turn.of(tracker)
        mobile = find_mobile(turn.text)
        if mobile:
            return new_value(tracker, self.mobile_slot, mobile)
        if turn.requested_slot != self.mobile_slot:
            return {}
        if looks_like_phone_attempt(turn.text) or turn.answers(self.mobile_slot):
            return {self.mobile_slot: unusable(re.sub(r"\D", "", turn.text))}
        return {}

    def reject_mobile(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> tuple[str | None, dict[str, Any]]:
        """(the mobile, {}) when `value` is one; (None, the re-ask events) after explaining what is wrong."""
        mobile = find_mobile(str(value or ""))
        if mobile is not None:
            return mobile, {}
        digits = unusable_detail(value)
        if digits.isdigit() and len(digits) != 11:
            return None, reject(dispatcher, tracker, self.mobile_slot, "utter_booking_phone_length", digits=len(digits))
        return None, reject(dispatcher, tracker, self.mobile_slot, "utter_booking_phone_invalid")
