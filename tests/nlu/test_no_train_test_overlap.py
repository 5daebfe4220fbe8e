"""No test text may also be a training example: the test sets must measure generalisation, not memory.

Texts are compared after normalisation (full-width/traditional/case/spacing/punctuation/emoji folded).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.nlu.text_keys import comparison_key
from tests.nlu.yml_to_jsonl import parse_example

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEST_SETS = ("test_nlu.jsonl", "independent_test.jsonl")


def training_texts(nlu_dir: Path) -> dict[str, str]:
    """comparison key -> original text, for every example of every intent block in data/nlu/*.yml."""
    texts: dict[str, str] = {}
    for path in sorted(nlu_dir.glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if "intent" not in block:
                continue
            for raw in str(block.get("examples", "")).splitlines():
                raw = raw.strip()
                if raw.startswith("- "):
                    text, _ = parse_example(raw[2:].strip())
                    texts[comparison_key(text)] = text
    return texts


def overlapping(test_path: Path, training: dict[str, str]) -> list[str]:
    rows = [json.loads(line) for line in test_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [
        f"{row['text']!r} == training {training[key]!r}"
        for row in rows
        if (key := comparison_key(row["text"])) in training
    ]


def test_comparison_key_folds_width_script_case_and_punctuation() -> None:
    assert comparison_key("ＤＤ２０２６ 幾點開門？😊") == comparison_key("dd2026几点开门")
    assert comparison_key("几点开门") != comparison_key("几点关门")


def test_overlap_is_detected(tmp_path: Path) -> None:
    test_file = tmp_path / "t.jsonl"
    test_file.write_text(json.dumps({"text": "你們幾點開門！", "intent": "x", "entities": []}) + "\n", encoding="utf-8")
    assert overlapping(test_file, {comparison_key("你们几点开门"): "你们几点开门"})


def test_no_test_text_is_in_the_training_data() -> None:
    training = training_texts(PROJECT_ROOT / "data" / "nlu")
    assert len(training) > 500
    leaks = [leak for name in TEST_SETS for leak in overlapping(PROJECT_ROOT / "tests" / "nlu" / name, training)]
    assert not leaks, "test texts also in data/nlu:\n" + "\n".join(leaks)
