"""The regression gate: macro-F1 may not drop more than the configured points, no test story may newly fail."""

from __future__ import annotations

from typing import Any

import pytest

from training.gate import GateConfig, gate_reasons


def evaluation(macro_f1: float, failed: list[str] | None = None) -> dict[str, Any]:
    return {"nlu": {"macro_f1": macro_f1, "intents": {}}, "stories": {"total": 3, "failed": failed or []}}


@pytest.mark.parametrize(("live", "candidate"), [(0.90, 0.90), (0.90, 0.95), (0.90, 0.891), (0.90, 0.89)])
def test_a_model_as_good_or_at_most_one_point_worse_passes(live: float, candidate: float) -> None:
    assert gate_reasons(evaluation(candidate), evaluation(live), GateConfig()) == []


def test_a_drop_of_more_than_one_point_is_refused_with_the_numbers() -> None:
    [reason] = gate_reasons(evaluation(0.85), evaluation(0.90), GateConfig())
    assert reason["code"] == "macro_f1_drop"
    assert reason["drop_points"] == 5.0
    assert reason["live"] == 0.90 and reason["candidate"] == 0.85


def test_the_allowed_drop_is_configurable() -> None:
    assert gate_reasons(evaluation(0.85), evaluation(0.90), GateConfig(max_macro_f1_drop_points=5.0)) == []


def test_a_story_that_newly_fails_is_refused_but_one_that_failed_before_is_not() -> None:
    live = evaluation(0.9, failed=["old failure"])
    assert gate_reasons(evaluation(0.9, failed=["old failure"]), live, GateConfig()) == []
    [reason] = gate_reasons(evaluation(0.9, failed=["old failure", "greet then thanks"]), live, GateConfig())
    assert reason["code"] == "new_story_failures"
    assert reason["stories"] == ["greet then thanks"]
    assert gate_reasons(evaluation(0.9, failed=["x"]), live, GateConfig(allow_new_story_failures=True)) == []


def test_both_reasons_are_given_together() -> None:
    codes = [r["code"] for r in gate_reasons(evaluation(0.5, ["s"]), evaluation(0.9), GateConfig())]
    assert codes == ["macro_f1_drop", "new_story_failures"]


def test_a_model_without_evaluation_is_refused() -> None:
    assert [r["code"] for r in gate_reasons(None, evaluation(0.9), GateConfig())] == ["not_evaluated"]


def test_without_a_live_evaluation_only_failing_stories_count() -> None:
    assert gate_reasons(evaluation(0.5), None, GateConfig()) == []
    assert [r["code"] for r in gate_reasons(evaluation(0.5, ["s"]), None, GateConfig())] == ["new_story_failures"]
