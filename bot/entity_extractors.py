"""Entity extractors of the NLU pipeline (rasa env).

- IdEntityExtractor: order/ticket/booking numbers and phones however they are typed (bot/id_entities.py),
  with normalised values. It replaces what RegexEntityExtractor found for those types (the strict regexes
  of data/nlu/entities.yml stay as DIET features), so each id is reported once.
- CrmEntityExtractor: `store` and `service` entities with CRM codes as values, from a blank spaCy `zh`
  pipeline (character tokens, nothing downloaded) whose entity ruler is built at training time from the
  vocabulary stack/nlu_entities.py exported from the CRM (var/nlu/crm_entities.json). The vocabulary is
  stored in the model, so serving never reads the CRM.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.id_entities import ID_ENTITY_TYPES, find_ids
from bot.text_normalise import normalise_text

logger = logging.getLogger(__name__)

STORE, SERVICE, BUSINESS = "store", "service", "business"


def _set_entities(message: Message, entities: list[dict[str, Any]]) -> None:
    message.set(ENTITIES, entities, add_to_output=True)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class IdEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Ids and phones with normalised values; place it after RegexEntityExtractor."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> IdEntityExtractor:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            kept = [e for e in message.get(ENTITIES, []) if e.get("entity") not in ID_ENTITY_TYPES]
            found = [
                {"entity": m.entity, "start": m.start, "end": m.end, "value": m.value, "confidence": 1.0}
                for m in find_ids(message.get(TEXT) or "")
            ]
            _set_entities(message, kept + self.add_extractor_name(found))
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class CrmEntityExtractor(GraphComponent, EntityExtractorMixin):
    """`store` / `service` entities from the CRM vocabulary; place it after the business extractor."""

    FILE_NAME = "crm_entities.json"

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"vocabulary_path": "var/nlu/crm_entities.json"}

    def __init__(
        self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource, vocabulary: dict[str, Any]
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._vocabulary = vocabulary
        self._nlp = self._build_ruler(vocabulary) if vocabulary else None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CrmEntityExtractor:
        return cls(config, model_storage, resource, {})

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CrmEntityExtractor:
        with model_storage.read_from(resource) as directory:
            vocabulary = json.loads((directory / cls.FILE_NAME).read_text(encoding="utf-8"))
        return cls(config, model_storage, resource, vocabulary)

    def train(self, training_data: TrainingData) -> Resource:
        path = Path(self._config["vocabulary_path"])
        if not path.exists():
            raise FileNotFoundError(
                f"{path} is missing: export the CRM vocabulary first (python -m stack.nlu_entities, app env); "
                "stack.model.ensure_model does it before every training"
            )
        self._vocabulary = json.loads(path.read_text(encoding="utf-8"))
        self._nlp = self._build_ruler(self._vocabulary)
        with self._model_storage.write_to(self._resource) as directory:
            (directory / self.FILE_NAME).write_text(json.dumps(self._vocabulary, ensure_ascii=False), encoding="utf-8")
        return self._resource

    @staticmethod
    def _build_ruler(vocabulary: dict[str, Any]) -> Any:
        import spacy

        nlp = spacy.blank("zh")  # character segmentation: no model, nothing downloaded
        ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "ORTH"})
        patterns = [{"label": STORE, "pattern": phrase, "id": phrase} for phrase in vocabulary["store_phrases"]]
        patterns += [{"label": SERVICE, "pattern": phrase, "id": phrase} for phrase in vocabulary["service_phrases"]]
        ruler.add_patterns(patterns)
        return nlp

    def process(self, messages: list[Message]) -> list[Message]:
        if self._nlp is None:
            return messages
        for message in messages:
            found = self.extract(message.get(TEXT) or "", message.get(ENTITIES, []))
            _set_entities(message, message.get(ENTITIES, []) + self.add_extractor_name(found))
        return messages

    def extract(self, text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Store and service mentions; a place with several stores is narrowed by the business named."""
        assert self._nlp is not None
        # Traditional characters and full-width forms map one character to one, so spans stay aligned.
        doc = self._nlp(normalise_text(text) if len(normalise_text(text)) == len(text) else text)
        services: list[dict[str, Any]] = []
        store_hits: list[tuple[int, int, list[str]]] = []
        for span in doc.ents:
            if span.label_ == SERVICE:
                code = self._vocabulary["service_phrases"][span.ent_id_]
                services.append(self._entity(SERVICE, span.start_char, span.end_char, code))
            else:
                store_hits.append((span.start_char, span.end_char, self._vocabulary["store_phrases"][span.ent_id_]))
        businesses = {str(e["value"]) for e in entities if e.get("entity") == BUSINESS}
        businesses |= {self._vocabulary["services"].get(str(s["value"]), "") for s in services} - {""}
        stores = []
        for start, end, codes in store_hits:
            narrowed = [c for c in codes if self._vocabulary["stores"][c]["business"] in businesses]
            stores += [self._entity(STORE, start, end, code) for code in (narrowed or codes)]
        return stores + services

    @staticmethod
    def _entity(entity: str, start: int, end: int, value: str) -> dict[str, Any]:
        return {"entity": entity, "start": start, "end": end, "value": value, "confidence": 1.0}
