"""Routes messages with no readable content to nlu_fallback (see bot/low_information.py)."""

from __future__ import annotations

import json
import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.low_information import is_low_information, latin_words

logger = logging.getLogger(__name__)

WORDS_FILE = "latin_words.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LowInformationGuard(GraphComponent):
    """After the intent classifier: nonsense Latin strings get intent nlu_fallback (confidence 1.0).

    The known words are the Latin words of the training examples, saved with the model, so adding an
    abbreviation or pinyin phrase to data/nlu is all it takes to make it understood.
    """

    def __init__(self, model_storage: ModelStorage, resource: Resource, known_words: set[str]) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self.known_words = known_words

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LowInformationGuard:
        return cls(model_storage, resource, set())

    def train(self, training_data: TrainingData) -> Resource:
        self.known_words = latin_words(str(m.get(TEXT)) for m in training_data.intent_examples if m.get(TEXT))
        with self._model_storage.write_to(self._resource) as directory:
            (directory / WORDS_FILE).write_text(json.dumps(sorted(self.known_words)), encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> LowInformationGuard:
        known_words: set[str] = set()
        try:
            with model_storage.read_from(resource) as directory:
                known_words = set(json.loads((directory / WORDS_FILE).read_text(encoding="utf-8")))
        except ValueError:
            logger.warning("LowInformationGuard has no word list in %s", resource.name)
        return cls(model_storage, resource, known_words)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text or not is_low_information(str(text), self.known_words):
                continue
            fallback = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME, PREDICTED_CONFIDENCE_KEY: 1.0}
            ranking = [fallback, *(message.get("intent_ranking") or [])]
            message.set(INTENT, fallback, add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages
