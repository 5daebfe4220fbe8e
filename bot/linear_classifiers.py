"""Intent classifier and FAQ response selector: a linear model on the pipeline's sentence features.

Both read the sentence-level features the featurizers put on each message (sparse word and character
n-gram counts, the dense e5 sentence vector), scale each block (L2 per block, the dense block weighted)
and fit a linear SVM with temperature-scaled probabilities (or a logistic regression, `model: logreg`).
They train in seconds where DIET and the TensorFlow ResponseSelector took minutes on the shared 2-core
machine; the comparison is in the README.

- LinearIntentClassifier sets `intent` and `intent_ranking` like any Rasa intent classifier.
- LinearResponseSelector is trained on the retrieval intent's examples (faq/<key>) and answers under
  `response_selector.faq` in the shape Rasa's ResponseSelector uses (response.intent_response_key,
  response.confidence, ranking), which actions/faq.py reads.
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import csr_matrix, hstack, vstack
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

logger = logging.getLogger(__name__)

RANKING_LENGTH = 10


# Where a message being parsed keeps its feature row once built: the intent classifier and the response
# selector read the same features, so the second one reuses the row (not part of the parse output). Only
# at parse time: training examples are fingerprinted and cached by Rasa, a matrix has no place there.
_ROW_CACHE = "linear_classifiers_features"


def _feature_row(message: Message, dense_weight: float, keep: bool) -> csr_matrix:
    cached = message.get(_ROW_CACHE)
    if cached is not None and cached[0] == dense_weight:
        return cached[1]
    blocks = []
    sparse = message.get_sparse_features(TEXT)[1]
    if sparse is not None:
        blocks.append(normalize(csr_matrix(sparse.features)))
    dense = message.get_dense_features(TEXT)[1]
    if dense is not None:
        blocks.append(csr_matrix(normalize(np.asarray(dense.features).reshape(1, -1)) * dense_weight))
    row = hstack(blocks, format="csr")
    if keep:
        message.set(_ROW_CACHE, (dense_weight, row))
    return row


def sentence_features(messages: list[Message], dense_weight: float, keep: bool = False) -> csr_matrix:
    """One row per message: each sparse featurizer's sentence vector L2-normalised, then the dense ones.

    keep: store each row on its message for the next classifier of the same parse.
    """
    return vstack([_feature_row(message, dense_weight, keep) for message in messages], format="csr")


TEMPERATURES = np.geomspace(0.5, 50.0, 80)
CALIBRATION_FILE = "calibration.json"


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    """Row-wise softmax of temperature * scores: the SVM's margins as probabilities that sum to 1."""
    scaled = scores * temperature
    scaled = scaled - scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def margins(clf: Any, features: csr_matrix) -> np.ndarray:
    """decision_function as one column per class (a two-class SVM returns one column for the second class)."""
    scores = np.asarray(clf.decision_function(features))
    if scores.ndim == 1:
        scores = np.column_stack([-scores, scores])
    return scores


def fit_temperature(scores: np.ndarray, gold: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of the gold classes (held-out margins)."""
    rows = np.arange(len(gold))
    losses = [-np.mean(np.log(softmax(scores, float(t))[rows, gold] + 1e-12)) for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


class _LinearComponent(GraphComponent):
    """A linear classifier on the sentence features, with probabilities.

    model "svm" (default): a linear SVM (liblinear; ~2 s of CPU for the intents, where the logistic regression
    needed 16-30 s and converged slowly once the e5 block was weighted up) whose margins become probabilities
    by a softmax with one temperature, fitted on 3-fold out-of-fold margins of the training data (so that a
    confidence means the same on unseen messages: the FallbackClassifier and FAQ thresholds read it).
    model "logreg": multinomial logistic regression (its own probabilities).
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "model": "svm",
            "C": 1.0,
            "dense_weight": 1.0,
            "max_iter": 2000,
            "class_weight": None,
            "calibration_folds": 3,
        }

    def __init__(self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.clf: Any = None
        self.temperature = 1.0

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> _LinearComponent:
        return cls(config, model_storage, resource)

    def _new_classifier(self) -> Any:
        if self.config["model"] == "logreg":
            return LogisticRegression(
                C=float(self.config["C"]),
                max_iter=int(self.config["max_iter"]),
                class_weight=self.config["class_weight"],
                random_state=42,
            )
        if self.config["model"] == "svm":
            return LinearSVC(C=float(self.config["C"]), class_weight=self.config["class_weight"], random_state=42)
        raise ValueError(f"unknown model {self.config['model']!r} (svm or logreg)")

    def _fit(self, messages: list[Message], labels: list[str]) -> None:
        features = sentence_features(messages, float(self.config["dense_weight"]))
        self.clf = self._new_classifier().fit(features, labels)
        if self.config["model"] == "svm":
            self.temperature = self._held_out_temperature(features, np.asarray(labels))
            logger.info("%s: softmax temperature %.2f", type(self).__name__, self.temperature)
        self._persist()

    def _held_out_temperature(self, features: csr_matrix, labels: np.ndarray) -> float:
        classes = np.unique(labels)
        folds = int(self.config["calibration_folds"])
        if folds < 2 or len(labels) < 2 * folds:
            return 1.0
        held_out = np.full((len(labels), len(classes)), -10.0)
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=42)
        with warnings.catch_warnings():  # a class with fewer examples than folds is fine here
            warnings.simplefilter("ignore", UserWarning)
            splits = list(splitter.split(np.zeros(len(labels)), labels))
        for train, test in splits:
            if len(np.unique(labels[train])) < 2:
                continue
            fold_clf = self._new_classifier().fit(features[train], labels[train])
            columns = np.searchsorted(classes, fold_clf.classes_)
            held_out[np.ix_(test, columns)] = margins(fold_clf, features[test])
        return fit_temperature(held_out, np.searchsorted(classes, labels))

    def _rankings(self, messages: list[Message]) -> list[list[tuple[str, float]]]:
        assert self.clf is not None
        features = sentence_features(messages, float(self.config["dense_weight"]), keep=True)
        if self.config["model"] == "svm":
            probabilities = softmax(margins(self.clf, features), self.temperature)
        else:
            probabilities = self.clf.predict_proba(features)
        classes = [str(c) for c in self.clf.classes_]
        return [sorted(zip(classes, map(float, row), strict=True), key=lambda item: -item[1]) for row in probabilities]

    def _persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as directory:
            sio.dump(self.clf, directory / "classifier.skops")
            (directory / CALIBRATION_FILE).write_text(json.dumps({"temperature": self.temperature}), encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> _LinearComponent:
        import skops.io as sio

        component = cls(config, model_storage, resource)
        try:
            with model_storage.read_from(resource) as directory:
                path = directory / "classifier.skops"
                untrusted = sio.get_untrusted_types(file=path)
                if untrusted:
                    raise ValueError(f"untrusted types in {path}: {untrusted}")
                component.clf = sio.load(path, trusted=untrusted)
                calibration = directory / CALIBRATION_FILE
                if calibration.exists():
                    component.temperature = float(json.loads(calibration.read_text(encoding="utf-8"))["temperature"])
        except ValueError:
            logger.warning("%s has no trained model in %s", cls.__name__, resource.name)
        return component


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearIntentClassifier(_LinearComponent, IntentClassifier):
    """Intent (retrieval intents as one intent, e.g. faq) with a ranking."""

    def train(self, training_data: TrainingData) -> Resource:
        examples = [m for m in training_data.intent_examples if m.get(TEXT) and m.get(INTENT)]
        self._fit(examples, [str(m.get(INTENT)) for m in examples])
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self.clf is None:
            return messages
        for message, ranking in zip(messages, self._rankings(messages), strict=True):
            ranked = [{"name": name, "confidence": confidence} for name, confidence in ranking[:RANKING_LENGTH]]
            message.set(INTENT, ranked[0], add_to_output=True)
            message.set("intent_ranking", ranked, add_to_output=True)
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LinearResponseSelector(_LinearComponent):
    """The retrieval intent's key (faq/<key>), under response_selector.<retrieval_intent>."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**_LinearComponent.get_default_config(), "retrieval_intent": "faq"}

    def train(self, training_data: TrainingData) -> Resource:
        retrieval_intent = self.config["retrieval_intent"]
        examples = [
            m
            for m in training_data.intent_examples
            if m.get(INTENT) == retrieval_intent and m.get(INTENT_RESPONSE_KEY) and m.get(TEXT)
        ]
        self._fit(examples, [str(m.get(INTENT_RESPONSE_KEY)) for m in examples])
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        if self.clf is None:
            return messages
        retrieval_intent = self.config["retrieval_intent"]
        for message, ranking in zip(messages, self._rankings(messages), strict=True):
            key, confidence = ranking[0]
            selector = message.get("response_selector") or {}
            selector.setdefault("all_retrieval_intents", [])
            if retrieval_intent not in selector["all_retrieval_intents"]:
                selector["all_retrieval_intents"].append(retrieval_intent)
            selector[retrieval_intent] = {
                "response": {
                    "responses": None,
                    "confidence": confidence,
                    "intent_response_key": key,
                    "utter_action": f"utter_{key}",
                },
                "ranking": [{"confidence": c, "intent_response_key": k} for k, c in ranking[:RANKING_LENGTH]],
            }
            message.set("response_selector", selector, add_to_output=True)
        return messages
