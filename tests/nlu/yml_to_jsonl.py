"""Generate tests/nlu/test_nlu.jsonl from tests/nlu/test_nlu.yml.

Usage: python tests/nlu/yml_to_jsonl.py  (any env with PyYAML; no Rasa import needed)

One JSON object per line: {"text", "intent", "entities": [{"entity", "value", "text"}]}.
FAQ examples keep their full retrieval intent (faq/<key>). An entity's value is its synonym
value when annotated with one, otherwise the annotated text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
# [text](entity) or [text]{"entity": ..., "value": ...}
ANNOTATION = re.compile(r"\[(?P<text>[^\]]+)\](?:\((?P<name>[^)]+)\)|(?P<json>\{[^}]+\}))")


def parse_example(example: str) -> tuple[str, list[dict[str, Any]]]:
    """Strip inline annotations and return the plain text and its entities."""
    entities: list[dict[str, Any]] = []
    plain: list[str] = []
    pos = 0
    for match in ANNOTATION.finditer(example):
        plain.append(example[pos : match.start()])
        text = match.group("text")
        if match.group("name"):
            entity, value = match.group("name"), text
        else:
            spec = json.loads(match.group("json"))
            entity, value = spec["entity"], spec.get("value", text)
        entities.append({"entity": entity, "value": value, "text": text})
        plain.append(text)
        pos = match.end()
    plain.append(example[pos:])
    return "".join(plain), entities


def convert(src: Path, dst: Path) -> int:
    """Write one JSON line per example of `src` to `dst` and return the number of lines."""
    blocks = yaml.safe_load(src.read_text(encoding="utf-8"))["nlu"]
    lines = []
    for block in blocks:
        for raw in block["examples"].splitlines():
            raw = raw.strip()
            if not raw.startswith("- "):
                continue
            text, entities = parse_example(raw[2:].strip())
            lines.append(
                json.dumps({"text": text, "intent": block["intent"], "entities": entities}, ensure_ascii=False)
            )
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


if __name__ == "__main__":
    count = convert(HERE / "test_nlu.yml", HERE / "test_nlu.jsonl")
    print(f"wrote {count} examples")  # noqa: T201
