"""Score a trained model on test_nlu.jsonl exactly as POST /model/parse would answer.

Usage (rasa env, repo root): python tests/nlu/evaluate_parse.py MODEL.tar.gz

Unlike `rasa test nlu`, the FallbackClassifier's nlu_fallback is kept, so a low-confidence
prediction counts as an error. FAQ examples are right only when the intent is faq and the
ResponseSelector's key matches. Entities are compared as (entity, value) multisets.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from rasa.core.agent import Agent

HERE = Path(__file__).parent


def predicted_intent(parse: dict[str, Any]) -> str:
    """Return the intent name, with the retrieval key appended for faq."""
    name = parse["intent"]["name"]
    if name == "faq":
        selector = parse.get("response_selector", {}).get("faq", {}).get("response", {})
        key = selector.get("intent_response_key")
        return key or name
    return name


async def main(model_path: str) -> None:
    agent = Agent.load(model_path)
    rows = [json.loads(line) for line in (HERE / "test_nlu.jsonl").read_text(encoding="utf-8").splitlines()]
    right = 0
    entity_right = 0
    per_intent: Counter[str] = Counter()
    per_intent_right: Counter[str] = Counter()
    errors = []
    for row in rows:
        parse = await agent.parse_message(row["text"])
        expected = row["intent"]
        got = predicted_intent(parse)
        base = expected.split("/")[0]
        per_intent[base] += 1
        if got == expected:
            right += 1
            per_intent_right[base] += 1
        else:
            errors.append(f"intent  {expected} -> {got} ({parse['intent']['confidence']:.2f}) {row['text']}")
        want = Counter((e["entity"], e["value"]) for e in row["entities"])
        have = Counter((e["entity"], str(e["value"])) for e in parse["entities"])
        if want == have:
            entity_right += 1
        else:
            errors.append(f"entity  {dict(want)} != {dict(have)} {row['text']}")
    print(  # noqa: T201 - a command-line report
        f"examples {len(rows)}  intent(+faq key) accuracy {right / len(rows):.4f}  "
        f"entity exact-match {entity_right / len(rows):.4f}"
    )
    for intent in sorted(per_intent, key=lambda i: per_intent_right[i] / per_intent[i]):
        print(f"  {intent:18} {per_intent_right[intent]}/{per_intent[intent]}")  # noqa: T201
    for line in errors:
        print(line)  # noqa: T201


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
