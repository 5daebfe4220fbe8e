"""Quick NLU report of one model on one evaluation file, as Markdown (rasa env).

    PYTHONPATH=. .venvs/rasa/bin/python -m bench.intent_report MODEL.tar.gz [eval.jsonl] [--errors] [--dump F]

--dump F writes every parse (intent ranking, FAQ ranking, entities) as JSON lines, e.g. to see what
another fallback threshold would do without parsing again.

The quick check while working on the data; `make bench` gives the full comparison with the baselines.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from bench.nlu_eval import agent_predictions, training_labels
from bench.nlu_metrics import load_eval_file, score

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _prf(scores: dict[str, float] | None) -> str:
    return "n/a" if not scores else f"P {scores['precision']:.3f} R {scores['recall']:.3f}"


def markdown(result: dict[str, Any], errors: bool) -> str:
    lines = [
        f"{result['examples']} examples; intent accuracy {result['intent_accuracy']:.1%}; "
        f"intent+FAQ key {result['full_label_accuracy']:.1%}; macro-F1 {result['macro_f1']:.3f}; "
        f"fallbacks {result['fallback_predictions']}",
        f"out_of_scope {_prf(result['out_of_scope'])}; "
        f"counting nlu_fallback {_prf(result['out_of_scope_with_fallback'])}",
        "",
        "| intent | n | precision | recall | F1 |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {label} | {int(s['support'])} | {s['precision']:.2f} | {s['recall']:.2f} | {s['f1']:.2f} |"
        for label, s in result["per_intent"].items()
    ]
    lines += ["", "| entity | n | precision | recall | F1 |", "|---|---|---|---|---|"]
    lines += [
        f"| {label} | {int(s['support'])} | {s['precision']:.2f} | {s['recall']:.2f} | {s['f1']:.2f} |"
        for label, s in result["entities"].items()
    ]
    if errors:
        lines += ["", *(f"{e['expected']} -> {e['predicted']}  {e['text']}" for e in result["errors"])]
        lines += [f"entities {e}" for e in result.get("entity_errors", [])]
    return "\n".join(lines)


async def report(model: Path, eval_path: Path, errors: bool, dump: Path | None = None) -> str:
    import logging

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.INFO)  # as `rasa run` does; unconfigured structlog prints every parse
    _, known = training_labels()
    rows = load_eval_file(eval_path, known).rows
    agent = Agent.load(str(model))
    predictions, seconds, cpu_seconds = await agent_predictions(agent, rows)
    if dump is not None:
        with dump.open("w", encoding="utf-8") as out:
            for row in rows:
                parse = await agent.parse_message(row.text)
                keep = ("text", "intent", "intent_ranking", "entities", "response_selector")
                out.write(json.dumps({"gold": row.label, **{k: parse.get(k) for k in keep}}, ensure_ascii=False) + "\n")
    result = score(rows, predictions)
    result["entity_errors"] = [
        f"{row.text}: want {sorted(set(row.entities))} got {sorted(set(p.entities))}"
        for row, p in zip(rows, predictions, strict=True)
        if sorted(set(row.entities)) != sorted(set(p.entities))
    ]
    return markdown(result, errors) + f"\n\nmean parse {1000 * seconds:.1f} ms wall, {1000 * cpu_seconds:.1f} ms CPU"


if __name__ == "__main__":
    argv = sys.argv[1:]
    dump_path = Path(argv.pop(argv.index("--dump") + 1)) if "--dump" in argv else None
    args = [a for a in argv if not a.startswith("--")]
    eval_file = Path(args[1]) if len(args) > 1 else PROJECT_ROOT / "tests" / "nlu" / "independent_test.jsonl"
    print(asyncio.run(report(Path(args[0]), eval_file, "--errors" in argv, dump_path)))  # noqa: T201
