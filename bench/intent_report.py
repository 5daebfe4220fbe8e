"""Per-intent precision/recall/F1 of one model on an evaluation file, as a Markdown table (rasa env).

    PYTHONPATH=. .venvs/rasa/bin/python -m bench.intent_report models/model-<hash>.tar.gz [eval.jsonl]

The quick check behind README's NLU table; `make bench` gives the full comparison with the baselines.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bench.nlu_eval import rasa_predictions, training_labels
from bench.nlu_metrics import base_intent, load_eval_file, per_label_f1

PROJECT_ROOT = Path(__file__).resolve().parent.parent


async def report(model: Path, eval_path: Path) -> str:
    _, known = training_labels()
    rows = load_eval_file(eval_path, known).rows
    predictions, _ = await rasa_predictions(model, rows)
    gold = [base_intent(row.label) for row in rows]
    predicted = [base_intent(p.label) for p in predictions]
    scores = per_label_f1(gold, predicted)
    right = sum(1 for row, p in zip(rows, predictions, strict=True) if row.label == p.label)
    lines = [
        f"{len(rows)} examples; intent (+FAQ key) accuracy {right / len(rows):.1%}; "
        f"intent macro-F1 {sum(s['f1'] for s in scores.values()) / len(scores):.3f}",
        "",
        "| intent | n | precision | recall | F1 |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {label} | {int(s['support'])} | {s['precision']:.2f} | {s['recall']:.2f} | {s['f1']:.2f} |"
        for label, s in scores.items()
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    eval_file = Path(sys.argv[2]) if len(sys.argv) > 2 else PROJECT_ROOT / "tests" / "nlu" / "test_nlu.jsonl"
    print(asyncio.run(report(Path(sys.argv[1]), eval_file)))  # noqa: T201
