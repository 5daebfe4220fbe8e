"""Nonsense Latin strings go to nlu_fallback; real answers typed without Chinese do not (bot/low_information*.py)."""

from __future__ import annotations

import json

import pytest

from tests.bot.helpers import run_in_rasa_env
from tests.bot.pure_modules import load_bot_module

low_information = load_bot_module("low_information")
KNOWN = low_information.latin_words(["ok 好的", "wifi密码多少", "hello", "订单DD202611270315", "vip会员", "yyds"])


@pytest.mark.parametrize("text", ["qwertyuiop", "asdf jkl", "ＱＷＥＲＴ", "zzzz!!", "blah blah?"])
def test_nonsense_is_low_information(text: str) -> None:
    assert low_information.is_low_information(text, KNOWN)


@pytest.mark.parametrize(
    "text",
    [
        "你好",  # Chinese
        "asdf 你好",  # Chinese beside noise: the classifier decides
        "OK",  # a known word, any case
        "ｗｉｆｉ",  # a known word, full width
        "Hello!!",
        "dd 2026 1127 0315",  # an order number typed loosely
        "13985012345",  # a phone
        "3",  # a count typed as an answer
        "qwerty 3",  # a digit carries information
        "👍",  # no letters or digits: left to the classifier
        "???",
        "",
    ],
)
def test_readable_text_is_not_low_information(text: str) -> None:
    assert not low_information.is_low_information(text, KNOWN)


def test_known_words_come_from_every_example_lower_cased() -> None:
    assert low_information.latin_words(["查一下VIP积分", "Hi 在吗", "DD2026 ts"]) == {"vip", "hi", "ts"}


PROBE = """
import json, sys
from pathlib import Path
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from bot.low_information_guard import LowInformationGuard

Path(sys.argv[1]).mkdir(parents=True)
storage = LocalModelStorage(Path(sys.argv[1]))
resource = Resource("guard")
examples = [Message(data={"text": "wifi密码", "intent": "faq"}), Message(data={"text": "hello", "intent": "greet"})]
LowInformationGuard.create({}, storage, resource, None).train(TrainingData(training_examples=examples))
guard = LowInformationGuard.load({}, storage, resource, None)
out = []
for text in ["qwertyuiop", "WIFI", "hello"]:
    m = Message(data={"text": text})
    m.set("intent", {"name": "greet", "confidence": 0.97}, add_to_output=True)
    m.set("intent_ranking", [{"name": "greet", "confidence": 0.97}], add_to_output=True)
    guard.process([m])
    out.append([m.get("intent")["name"], m.get("intent")["confidence"], [r["name"] for r in m.get("intent_ranking")]])
print(json.dumps(out))
"""


def test_guard_learns_the_words_keeps_them_with_the_model_and_falls_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    output = json.loads(run_in_rasa_env(PROBE, str(tmp_path / "storage")))
    assert output == [
        ["nlu_fallback", 1.0, ["nlu_fallback", "greet"]],
        ["greet", 0.97, ["greet"]],
        ["greet", 0.97, ["greet"]],
    ]
