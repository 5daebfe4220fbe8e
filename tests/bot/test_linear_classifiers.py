"""bot/linear_classifiers.py answers in the shapes Rasa and actions/faq.py read (probe in the rasa env)."""

from __future__ import annotations

import json

from tests.bot.helpers import run_in_rasa_env

PROBE = """
import json, sys
from pathlib import Path
import numpy as np
from scipy.sparse import csr_matrix
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from bot.linear_classifiers import LinearIntentClassifier, LinearResponseSelector

def message(text, vector, intent=None, key=None):
    data = {"text": text}
    if intent:
        data["intent"] = intent
    if key:
        data["intent_response_key"] = key
    m = Message(data=data)
    m.add_features(Features(csr_matrix(np.array([vector], dtype=float)), "sentence", "text", "cv"))
    m.add_features(Features(np.array([vector], dtype=float), "sentence", "text", "e5"))
    return m

examples = [
    message("a", [1, 0, 0], "greet"), message("b", [1, 0.1, 0], "greet"),
    message("c", [0, 1, 0], "faq", "faq/wifi"), message("d", [0, 1, 0.1], "faq", "faq/wifi"),
    message("e", [0, 0, 1], "faq", "faq/parking"), message("f", [0.1, 0, 1], "faq", "faq/parking"),
]
Path(sys.argv[1]).mkdir(parents=True)
storage = LocalModelStorage(Path(sys.argv[1]))
intent = LinearIntentClassifier({}, storage, Resource("intent"))
intent.train(TrainingData(training_examples=examples))
selector = LinearResponseSelector({}, storage, Resource("selector"))
selector.train(TrainingData(training_examples=examples))
probe = [message("x", [0, 0.9, 0]), message("y", [0, 0, 0.9])]
intent.process(probe)
selector.process(probe)
print(json.dumps([[sorted(m.as_dict(only_output_properties=True)), m.get("intent")["name"],
                   m.get("response_selector")["faq"]["response"]["intent_response_key"],
                   [r["intent_response_key"] for r in m.get("response_selector")["faq"]["ranking"]]] for m in probe]))
"""


def test_intent_and_faq_key_with_ranking(tmp_path) -> None:  # type: ignore[no-untyped-def]
    output = json.loads(run_in_rasa_env(PROBE, str(tmp_path / "storage")))
    # the feature row both classifiers share stays out of the parse output
    output_keys = ["intent", "intent_ranking", "response_selector", "text"]
    assert output == [
        [output_keys, "faq", "faq/wifi", ["faq/wifi", "faq/parking"]],
        [output_keys, "faq", "faq/parking", ["faq/parking", "faq/wifi"]],
    ]


TEMPERATURE_PROBE = """
import json
import numpy as np
from bot.linear_classifiers import TEMPERATURES, fit_temperature, softmax

rng = np.random.default_rng(0)
gold = rng.integers(0, 3, size=200)
reliable = np.eye(3)[gold] - 0.5          # the gold class always has the largest margin
noisy = reliable + rng.normal(0, 1.5, size=(200, 3))  # often it does not
probabilities = softmax(noisy, 2.0)
print(json.dumps({
    "reliable": fit_temperature(reliable, gold), "noisy": fit_temperature(noisy, gold),
    "largest": float(TEMPERATURES[-1]), "sums": bool(np.allclose(probabilities.sum(axis=1), 1.0)),
}))
"""


def test_temperature_is_high_for_reliable_margins_and_low_for_noisy_ones() -> None:
    output = json.loads(run_in_rasa_env(TEMPERATURE_PROBE))
    assert output["reliable"] > 0.5 * output["largest"]  # confident where the margins are always right
    assert output["noisy"] < 2.0  # hedged where they are often wrong
    assert output["sums"]
