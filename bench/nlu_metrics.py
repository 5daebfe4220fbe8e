"""NLU scores from (gold row, prediction) pairs. Pure Python: used by nlu_eval.py (rasa env) and the tests.

Definitions (also in bench/README.md):
- intent: the base intent (faq/<key> -> faq). Accuracy, per-intent F1 and macro-F1 (unweighted mean over
  the intents present in the gold rows) are computed on it. A prediction of nlu_fallback is a miss.
- full label: intent plus retrieval key (faq/<key>); FAQ-key accuracy is full-label accuracy on gold faq rows.
- entities: per type, the multiset of (type, normalised value) per row; TP/FP/FN summed over rows.
  Ids and phones are compared after NFKC and upper-casing (ＤＤ２０２６… == dd2026…); other values exactly.
- entities: each (type, normalised value) counts once per row (a store named twice is one store).
- out of scope: precision and recall of the intent out_of_scope; `out_of_scope_with_fallback` also
  counts an nlu_fallback answer as "out of scope" (the bot then says it did not understand instead of
  answering something wrong), for both precision and recall.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT_OF_SCOPE = "out_of_scope"
FALLBACK = "nlu_fallback"
RETRIEVAL_SEPARATOR = "/"
NORMALISED_ENTITIES = frozenset({"order_id", "ticket_id", "booking_id", "phone"})
CONTRACT_ENTITIES = ("order_id", "ticket_id", "booking_id", "phone", "party_size", "business")


@dataclass(frozen=True)
class GoldRow:
    text: str
    label: str  # full label: intent or faq/<key>
    entities: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Prediction:
    label: str  # full label as the system answers it (faq/<key>, nlu_fallback, ...)
    entities: tuple[tuple[str, str], ...]


@dataclass
class EvalFile:
    rows: list[GoldRow]
    unknown: list[GoldRow] = field(default_factory=list)

    @property
    def unknown_labels(self) -> list[str]:
        return sorted({row.label for row in self.unknown})


def base_intent(label: str) -> str:
    return label.split(RETRIEVAL_SEPARATOR, 1)[0]


def normalise_value(entity: str, value: Any) -> str:
    text = str(value)
    if entity in NORMALISED_ENTITIES:
        return unicodedata.normalize("NFKC", text).upper()
    return text


def entity_pairs(entities: Iterable[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((e["entity"], normalise_value(e["entity"], e["value"])) for e in entities))


def load_eval_file(path: Path, known_labels: set[str]) -> EvalFile:
    """Read a JSONL test set; rows whose label the training data doesn't know are set aside, not fatal."""
    result = EvalFile(rows=[])
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            row = GoldRow(raw["text"], raw["intent"], entity_pairs(raw.get("entities", [])))
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a {{text, intent, entities}} object: {error}") from error
        (result.rows if row.label in known_labels else result.unknown).append(row)
    return result


def f1(tp: int, fp: int, fn: int) -> float:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def per_label_f1(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision/recall/F1/support for every label that occurs in `gold`."""
    scores: dict[str, dict[str, float]] = {}
    for label in sorted(set(gold)):
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        scores[label] = {
            "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / (tp + fn) if tp + fn else 0.0,
            "f1": f1(tp, fp, fn),
            "support": float(tp + fn),
        }
    return scores


def entity_scores(rows: Sequence[GoldRow], predictions: Sequence[Prediction]) -> dict[str, dict[str, float]]:
    """Per entity type: precision, recall, F1 and gold count, matching (type, normalised value) multisets."""
    counts: dict[str, Counter[str]] = {}
    for row, prediction in zip(rows, predictions, strict=True):
        want = Counter(set(row.entities))
        have = Counter({(e, normalise_value(e, v)) for e, v in prediction.entities})
        for (entity, _), n in (want & have).items():
            counts.setdefault(entity, Counter())["tp"] += n
        for (entity, _), n in (have - want).items():
            counts.setdefault(entity, Counter())["fp"] += n
        for (entity, _), n in (want - have).items():
            counts.setdefault(entity, Counter())["fn"] += n
    scores = {}
    for entity in sorted(counts):
        c = counts[entity]
        scores[entity] = {
            "precision": c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0,
            "recall": c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0,
            "f1": f1(c["tp"], c["fp"], c["fn"]),
            "support": float(c["tp"] + c["fn"]),
        }
    return scores


def score(rows: Sequence[GoldRow], predictions: Sequence[Prediction]) -> dict[str, Any]:
    """Every NLU number of the report for one system."""
    if len(rows) != len(predictions):
        raise ValueError(f"{len(rows)} rows but {len(predictions)} predictions")
    if not rows:
        raise ValueError("no rows to score")
    gold = [base_intent(r.label) for r in rows]
    predicted = [base_intent(p.label) for p in predictions]
    intents = per_label_f1(gold, predicted)
    faq = [(r.label, p.label) for r, p in zip(rows, predictions, strict=True) if base_intent(r.label) == "faq"]
    oos = intents.get(OUT_OF_SCOPE)
    folded = [OUT_OF_SCOPE if p == FALLBACK else p for p in predicted]
    oos_fallback = per_label_f1(gold, folded).get(OUT_OF_SCOPE)
    errors = [
        {"text": r.text, "expected": r.label, "predicted": p.label}
        for r, p in zip(rows, predictions, strict=True)
        if r.label != p.label
    ]
    return {
        "examples": len(rows),
        "intent_accuracy": sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(rows),
        "full_label_accuracy": sum(r.label == p.label for r, p in zip(rows, predictions, strict=True)) / len(rows),
        "macro_f1": sum(s["f1"] for s in intents.values()) / len(intents),
        "per_intent": intents,
        "faq_key_accuracy": sum(g == p for g, p in faq) / len(faq) if faq else None,
        "faq_examples": len(faq),
        "entities": entity_scores(rows, predictions),
        "out_of_scope": (
            {"precision": oos["precision"], "recall": oos["recall"], "support": oos["support"]} if oos else None
        ),
        "out_of_scope_with_fallback": (
            {
                "precision": oos_fallback["precision"],
                "recall": oos_fallback["recall"],
                "support": oos_fallback["support"],
            }
            if oos_fallback
            else None
        ),
        "fallback_predictions": sum(p.label == "nlu_fallback" for p in predictions),
        "errors": errors,
    }
