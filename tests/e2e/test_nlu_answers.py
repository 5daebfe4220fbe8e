"""Issue 10's first-message behaviours, asked as a new user through the real stack (API, Rasa, actions, CRM).

A store named by its landmark gets that store's answer only; questions next to the domain (a sight's
tickets, another city's weather) get the out-of-scope answer, not a confident FAQ answer.
"""

from __future__ import annotations

import httpx
import pytest
import yaml

from core.settings import PROJECT_ROOT
from tests.e2e.test_chat import new_user, say


def reply_text(api: httpx.Client, text: str) -> str:
    result = say(api, new_user(), text)
    assert result["replies"], result
    return "\n".join(reply["text"] for reply in result["replies"])


def test_hours_of_the_store_named_by_its_landmark_only(api: httpx.Client) -> None:
    text = reply_text(api, "花果园店几点开门")
    hours_lines = [line for line in text.split("\n") if "营业时间" in line]
    assert hours_lines, text
    assert all("花果园" in line for line in hours_lines), text  # both stores at 花果园 (car care, menswear)
    assert not any(other in text for other in ("九眼桥", "春熙路", "观山湖", "天府广场")), text


def test_parking_of_the_store_named_by_its_landmark(api: httpx.Client) -> None:
    text = reply_text(api, "九眼桥那家能停车吗")
    assert text.startswith("悦享食府（成都九眼桥店）停车"), text
    assert "酒店" not in text, text


def out_of_scope_replies() -> list[str]:
    domain = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    return [variant["text"] for variant in domain["responses"]["utter_out_of_scope"]]


@pytest.mark.parametrize("question", ["上海迪士尼门票多少钱", "帮我看看明天北京天气"])
def test_questions_next_to_the_domain_get_the_out_of_scope_answer(api: httpx.Client, question: str) -> None:
    text = reply_text(api, question)
    assert text in out_of_scope_replies(), text  # not a confident FAQ answer, not a request to rephrase
