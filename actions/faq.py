"""FAQ answers from the CRM: ops edit an answer and the next message serves it, no retraining.

Each answer has its own confidence threshold (Rasa's ResponseSelector has none, RasaHQ/rasa#9751). Below it
the bot does not guess: it offers the top candidate questions as buttons ("您是想问…").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import slots
from actions.crm import in_read_only_session
from crm.schemas import FaqAnswerOut
from crm.services import faq

logger = logging.getLogger(__name__)
RETRIEVAL_INTENT = "faq"
STORE_ENTITY = "store"  # CRM store codes from the NLU (bot/entity_extractors.py); a place may name two stores
MAX_SUGGESTIONS = 3
MIN_SUGGESTION_CONFIDENCE = 0.05


@dataclass(frozen=True)
class FaqPrediction:
    key: str | None
    confidence: float
    ranking: list[tuple[str, float]]  # (key, confidence), best first


def _key_of(intent_response_key: str | None) -> str | None:
    prefix = f"{RETRIEVAL_INTENT}/"
    if intent_response_key and intent_response_key.startswith(prefix):
        return intent_response_key[len(prefix) :]
    return None


def faq_prediction(latest_message: dict[str, Any]) -> FaqPrediction:
    """The ResponseSelector's 'faq/<key>' prediction, its confidence and its ranking."""
    selector = (latest_message.get("response_selector") or {}).get(RETRIEVAL_INTENT) or {}
    response = selector.get("response") or {}
    ranking = [
        (key, float(item.get("confidence") or 0.0))
        for item in selector.get("ranking") or []
        if (key := _key_of(item.get("intent_response_key")))
    ]
    return FaqPrediction(
        key=_key_of(response.get("intent_response_key")),
        confidence=float(response.get("confidence") or 0.0),
        ranking=ranking,
    )


def predicted_faq_key(latest_message: dict[str, Any]) -> str | None:
    return faq_prediction(latest_message).key


def latest_entity_value(tracker: Tracker, entity: str) -> str | None:
    values = list(tracker.get_latest_entity_values(entity))
    return str(values[0]) if values else None


async def confident_answer(tracker: Tracker) -> str | None:
    """The CRM's answer to the FAQ the ResponseSelector predicted for the latest message, when the prediction
    clears that answer's own threshold; None otherwise. Forms use it for a question asked mid-form that NLU
    did not call `faq` ("包间有最低消费吗" while the store is asked)."""
    prediction = faq_prediction(tracker.latest_message)
    if prediction.key is None:
        return None
    business = latest_entity_value(tracker, slots.BUSINESS) or tracker.get_slot(slots.BUSINESS)
    answer = await in_read_only_session(faq.get_answer, key=prediction.key, business_code=business)
    if answer is None or prediction.confidence < answer.confidence_threshold:
        return None
    return answer.answer_zh


class ActionAnswerFaq(Action):
    """Runs when the customer asks a frequently asked question (retrieval intent `faq`)."""

    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        prediction = faq_prediction(tracker.latest_message)
        key, confidence = prediction.key, prediction.confidence
        pressed = await in_read_only_session(faq.key_for_question, question=tracker.latest_message.get("text") or "")
        if pressed is not None:  # a suggestion button: the customer chose the question themselves
            key, confidence = pressed, 1.0
        business = latest_entity_value(tracker, slots.BUSINESS) or tracker.get_slot(slots.BUSINESS)
        stores: list[str | None] = list(dict.fromkeys(str(v) for v in tracker.get_latest_entity_values(STORE_ENTITY)))
        answers: list[FaqAnswerOut] = []
        for store in stores or [None]:  # the named store(s)' own answers, else the business's or the general one
            answer = (
                await in_read_only_session(faq.get_answer, key=key, business_code=business, store_code=store)
                if key
                else None
            )
            if answer is not None and answer.answer_zh not in [a.answer_zh for a in answers]:
                answers.append(answer)
        if not answers:
            logger.warning("No FAQ answer for key %r (business %r, stores %r)", key, business, stores)
            dispatcher.utter_message(response="utter_faq_unavailable")
            return []
        if confidence >= max(a.confidence_threshold for a in answers):
            dispatcher.utter_message(text="\n".join(a.answer_zh for a in answers))
            return []
        await self._suggest(dispatcher, domain, prediction)
        return []

    @staticmethod
    async def _suggest(dispatcher: CollectingDispatcher, domain: DomainDict, prediction: FaqPrediction) -> None:
        keys = [key for key, score in prediction.ranking if score >= MIN_SUGGESTION_CONFIDENCE][:MAX_SUGGESTIONS]
        questions = await in_read_only_session(faq.questions_for, keys=keys) if keys else {}
        if not questions:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return
        buttons = [{"title": questions[key], "payload": questions[key]} for key in keys if key in questions]
        logger.info("FAQ below threshold (%s %.2f): suggesting %s", prediction.key, prediction.confidence, keys)
        # The candidates come first, then the response's own "none of these" buttons from the domain.
        template = domain["responses"]["utter_faq_suggestions"][0]
        dispatcher.utter_message(text=template["text"], buttons=[*buttons, *template.get("buttons", [])])
