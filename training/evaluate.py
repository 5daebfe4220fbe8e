"""Evaluates a model on the project's test sets: `rasa test nlu` (per-intent precision/recall/F1, macro-F1,
the confusion matrix Rasa draws) and `rasa test core` on the test stories (which stories fail)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from training.rasa_cli import RASA_BIN, TrainingFailedError, run_streamed

CONFUSION_MATRIX = "intent_confusion_matrix.png"
_SUMMARY_KEYS = ("accuracy", "macro avg", "weighted avg", "micro avg")


def nlu_summary(report: dict[str, Any]) -> dict[str, Any]:
    """Rasa's intent_report.json as {macro_f1, weighted_f1, accuracy, intents: {name: {precision, recall, f1, …}}}."""
    intents = {
        name: {
            "precision": round(float(values.get("precision", 0.0)), 4),
            "recall": round(float(values.get("recall", 0.0)), 4),
            "f1": round(float(values.get("f1-score", 0.0)), 4),
            "support": int(values.get("support", 0)),
        }
        for name, values in sorted(report.items())
        if name not in _SUMMARY_KEYS and isinstance(values, dict)
    }
    macro = report.get("macro avg") or {}
    weighted = report.get("weighted avg") or {}
    return {
        "macro_f1": round(float(macro.get("f1-score", 0.0)), 4),
        "weighted_f1": round(float(weighted.get("f1-score", 0.0)), 4),
        "accuracy": round(float(report.get("accuracy", 0.0)), 4),
        "intents": intents,
    }


# Rasa names a failed story "<name> (<file it came from>)"; the file is in a per-job folder, so drop it.
_SOURCE_SUFFIX = re.compile(r" \([^()]*\.ya?ml\)$")


def story_names(path: Path) -> list[str]:
    """The names of the stories in a YAML story file or every such file under a folder (without Rasa's
    "(file)" suffix, so the same story failing for two models has the same name)."""
    files = sorted(path.rglob("*.yml")) if path.is_dir() else [path] if path.is_file() else []
    names: list[str] = []
    for file in files:
        content = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        stories = content.get("stories") or []
        names.extend(_SOURCE_SUFFIX.sub("", str(story.get("story"))) for story in stories if isinstance(story, dict))
    return names


def evaluate_model(
    model: Path, project: Path, out_dir: Path, *, nlu_test_set: str, story_tests: str, log_path: Path
) -> dict[str, Any]:
    """Runs both test sets that exist in `project` against `model`; artifacts (the confusion matrix) land in out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    evaluation: dict[str, Any] = {"nlu": None, "stories": None, "confusion_matrix": None}
    rasa = str(RASA_BIN / "rasa")
    nlu_path = project / nlu_test_set
    if nlu_path.exists():
        nlu_out = out_dir / "nlu"
        result = run_streamed(
            [rasa, "test", "nlu", "--nlu", str(nlu_path), "--model", str(model), "--out", str(nlu_out)],
            cwd=project,
            log_path=log_path,
        )
        report = nlu_out / "intent_report.json"
        if result.returncode != 0 or not report.exists():
            raise TrainingFailedError(f"rasa test nlu failed: {result.reason}")
        evaluation["nlu"] = nlu_summary(json.loads(report.read_text(encoding="utf-8")))
        if (nlu_out / CONFUSION_MATRIX).exists():
            evaluation["confusion_matrix"] = str(nlu_out / CONFUSION_MATRIX)
    stories_path = project / story_tests
    if stories_path.exists():
        core_out = out_dir / "core"
        result = run_streamed(
            [rasa, "test", "core", "--stories", str(stories_path), "--model", str(model), "--out", str(core_out)],
            cwd=project,
            log_path=log_path,
        )
        if result.returncode != 0:
            raise TrainingFailedError(f"rasa test core failed: {result.reason}")
        failed = story_names(core_out / "failed_test_stories.yml")
        evaluation["stories"] = {"total": len(story_names(stories_path)), "failed": sorted(set(failed))}
    return evaluation
