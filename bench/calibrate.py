"""Chooses the NLU fallback threshold and the FAQ per-answer thresholds on held-out data (pure Python).

    .venvs/app/bin/python -m bench.calibrate [var/bench/cv_held_out.json]

The held-out data are the out-of-fold predictions of `make bench`'s cross-validation of config.yml on
data/nlu (bench/nlu_cv.py): every training example parsed by a model that did not see it. The frozen
test sets are never used. Prints the thresholds; the chosen values are written by hand into config.yml
(FallbackClassifier.threshold) and crm/seed/data/faq.yml (confidence_threshold per key), with the
numbers of this run in the README.

- Fallback threshold: the value maximising held-out "useful answers": an in-scope example counts when
  its intent is right and its confidence reaches the threshold; an out-of-scope example counts when it
  is predicted out_of_scope or falls back (the customer is told we did not understand, not misled).
- FAQ threshold per key: the lowest value at which the answers the key would give on held-out data are
  at least TARGET_PRECISION right (an unrelated question must not get a confident FAQ answer), clamped
  to [MIN_THRESHOLD, MAX_THRESHOLD]; keys without wrong held-out answers get MIN_THRESHOLD.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.nlu_metrics import OUT_OF_SCOPE, base_intent

DEFAULT_INPUT = Path(__file__).resolve().parent.parent / "var" / "bench" / "cv_held_out.json"
CANDIDATES = [round(0.20 + 0.05 * i, 2) for i in range(14)]  # 0.20 .. 0.85
TARGET_PRECISION = 0.95
MIN_THRESHOLD, MAX_THRESHOLD = 0.3, 0.9


def useful_answers(rows: Sequence[dict[str, Any]], threshold: float) -> int:
    total = 0
    for row in rows:
        gold = base_intent(row["gold"])
        falls_back = row["confidence"] < threshold
        if gold == OUT_OF_SCOPE:
            total += falls_back or row["intent"] == OUT_OF_SCOPE
        else:
            total += not falls_back and row["intent"] == gold
    return total


def fallback_threshold(rows: Sequence[dict[str, Any]]) -> tuple[float, dict[float, int]]:
    scores = {t: useful_answers(rows, t) for t in CANDIDATES}
    best = max(scores.values())
    return min(t for t, s in scores.items() if s == best), scores  # the lowest of equally good values


def faq_thresholds(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """key -> threshold, from the rows the classifier answered as faq."""
    answered: dict[str, list[tuple[float, bool]]] = {}
    for row in rows:
        if row["intent"] == "faq" and row["faq_key"]:
            key = row["faq_key"].split("/", 1)[1]
            answered.setdefault(key, []).append((row["faq_confidence"], row["gold"] == row["faq_key"]))
    thresholds = {}
    for key, answers in sorted(answered.items()):
        chosen = MAX_THRESHOLD
        for candidate in sorted({MIN_THRESHOLD, *(c for c, _ in answers)}):
            kept = [right for confidence, right in answers if confidence >= candidate]
            if candidate >= MIN_THRESHOLD and (not kept or sum(kept) / len(kept) >= TARGET_PRECISION):
                chosen = candidate
                break
        thresholds[key] = round(min(max(chosen, MIN_THRESHOLD), MAX_THRESHOLD), 2)
    return thresholds


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_INPUT
    rows = json.loads(path.read_text(encoding="utf-8"))
    threshold, scores = fallback_threshold(rows)
    print(f"{len(rows)} held-out examples")  # noqa: T201
    print(f"fallback threshold {threshold} (useful answers: {scores})")  # noqa: T201
    print(json.dumps(faq_thresholds(rows), indent=1))  # noqa: T201


if __name__ == "__main__":
    main()
