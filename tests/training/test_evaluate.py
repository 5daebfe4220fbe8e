"""Reading Rasa's test reports: intent_report.json and failed_test_stories.yml."""

from __future__ import annotations

from pathlib import Path

from training.evaluate import nlu_summary, story_names

FAILED_STORIES = """version: "3.1"
stories:
- story: greet then thanks then goodbye (/var/training/job-3/project/tests/stories/test_basics.yml)
  steps:
  - user: |-
      你好
  - action: utter_greet  # predicted: action_default_fallback
- story: ask hours (again) (/var/training/job-3/project/tests/stories/test_faq.yml)
  steps: []
"""


def test_failed_story_names_drop_the_per_job_file_suffix(tmp_path: Path) -> None:
    path = tmp_path / "failed_test_stories.yml"
    path.write_text(FAILED_STORIES, encoding="utf-8")
    assert story_names(path) == ["greet then thanks then goodbye", "ask hours (again)"]


def test_no_failed_stories_and_a_missing_file_are_empty(tmp_path: Path) -> None:
    path = tmp_path / "failed_test_stories.yml"
    path.write_text("# None of the test stories failed - all good!", encoding="utf-8")
    assert story_names(path) == []
    assert story_names(tmp_path / "missing.yml") == []


def test_the_test_stories_of_a_folder_are_counted() -> None:
    folder = Path(__file__).parent / "project" / "tests" / "stories"
    assert story_names(folder) == ["greet then thanks then goodbye"]


def test_the_intent_report_becomes_per_intent_scores_and_macro_f1() -> None:
    report = {
        "greet": {"precision": 1.0, "recall": 0.5, "f1-score": 0.6667, "support": 2, "confused_with": {"bye": 1}},
        "bye": {"precision": 0.5, "recall": 1.0, "f1-score": 0.66666, "support": 1, "confused_with": {}},
        "accuracy": 0.6667,
        "macro avg": {"precision": 0.75, "recall": 0.75, "f1-score": 0.66667, "support": 3},
        "weighted avg": {"precision": 0.8333, "recall": 0.6667, "f1-score": 0.6667, "support": 3},
    }
    summary = nlu_summary(report)
    assert summary["macro_f1"] == 0.6667 and summary["accuracy"] == 0.6667
    assert summary["intents"]["greet"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert set(summary["intents"]) == {"greet", "bye"}
