"""K-fold cross-validation of a pipeline on data/nlu (rasa env), scored like the test sets.

Folds are stratified by label (intent or faq/<key>), with a fixed seed. Each fold trains an NLU-only
model with `rasa train nlu` (same config, same domain) on the other folds and parses the held-out
examples with `Agent.parse_message`. The out-of-fold predictions, with their confidences, are also the
held-out data on which bench/calibrate.py chooses the fallback and FAQ thresholds.

data/nlu/augmented.yml (variants generated from the other files) is left out: a variant in the training
folds of its own source would make the held-out scores and confidences optimistic.
"""

from __future__ import annotations

import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.nlu_metrics import GoldRow, Prediction, entity_pairs, score

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RASA = Path(sys.executable).parent / "rasa"
SEED = 13
GENERATED_FILES = frozenset({"augmented.yml"})

logger = logging.getLogger("bench.nlu_cv")


def label_of(example: Any) -> str:
    return str(example.get("intent_response_key") or example.get("intent"))


def stratified_folds(examples: list[Any], folds: int, seed: int = SEED) -> list[list[Any]]:
    """Every label's examples dealt round-robin over the folds after a seeded shuffle."""
    by_label: dict[str, list[Any]] = defaultdict(list)
    for example in examples:
        by_label[label_of(example)].append(example)
    rng = random.Random(seed)
    result: list[list[Any]] = [[] for _ in range(folds)]
    offset = 0
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        for index, example in enumerate(group):
            result[(index + offset) % folds].append(example)
        offset += len(group)
    return result


def train_fold(config: Path, data_dir: Path, out_dir: Path) -> Path:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "RASA_TELEMETRY_ENABLED": "false"}
    subprocess.run(
        [
            *(str(RASA), "train", "nlu", "-c", str(config), "-u", str(data_dir), "-d", "domain.yml"),
            *("--out", str(out_dir), "--fixed-model-name", "fold", "--quiet"),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out_dir / "fold.tar.gz"


async def cross_validate(config: Path, folds: int, run_folds: int | None = None) -> dict[str, Any]:
    """Cross-validation; with run_folds, only the first run_folds folds are held out (a quick dev split)."""
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from tests.nlu.evaluate_parse import predicted_intent

    files = sorted(p for p in (PROJECT_ROOT / "data" / "nlu").glob("*.yml") if p.name not in GENERATED_FILES)
    data = load_data(str(files[0])).merge(*(load_data(str(p)) for p in files[1:]))
    parts = stratified_folds(list(data.intent_examples), folds)
    rows: list[GoldRow] = []
    predictions: list[Prediction] = []
    held_out: list[dict[str, Any]] = []
    started = time.perf_counter()
    for index, test_part in enumerate(parts[:run_folds]):
        logger.info("Cross-validation fold %d/%d (%d held out)", index + 1, folds, len(test_part))
        train_part = [ex for j, part in enumerate(parts) if j != index for ex in part]
        fold_data = TrainingData(
            training_examples=train_part,
            entity_synonyms=data.entity_synonyms,
            regex_features=data.regex_features,
            lookup_tables=data.lookup_tables,
            responses=data.responses,
        )
        with tempfile.TemporaryDirectory(prefix="nlu-cv-") as tmp:
            data_dir = Path(tmp) / "data"
            data_dir.mkdir()
            (data_dir / "nlu.yml").write_text(fold_data.nlu_as_yaml(), encoding="utf-8")
            agent = Agent.load(str(train_fold(config, data_dir, Path(tmp))))
            for example in test_part:
                text = example.get("text")
                parse = await agent.parse_message(text)
                label = predicted_intent(parse)
                gold = GoldRow(text, label_of(example), entity_pairs(example.get("entities") or []))
                rows.append(gold)
                predictions.append(Prediction(label, entity_pairs(parse.get("entities", []))))
                held_out.append(held_out_row(gold.label, parse))
    result = score(rows, predictions)
    result.pop("errors")
    return {
        "folds": folds,
        "folds_run": len(parts[:run_folds]),
        "config": str(config.relative_to(PROJECT_ROOT)),
        "seconds": time.perf_counter() - started,
        **result,
        "held_out": held_out,
    }


def held_out_row(gold: str, parse: dict[str, Any]) -> dict[str, Any]:
    """What calibration needs: gold label, the classifier's ranking before any fallback, the FAQ selector."""
    ranking = parse.get("intent_ranking") or []
    top = next((r for r in ranking if r.get("name") != "nlu_fallback"), {"name": None, "confidence": 0.0})
    selector = parse.get("response_selector", {}).get("faq", {}).get("response", {})
    return {
        "gold": gold,
        "intent": top["name"],
        "confidence": float(top["confidence"] or 0.0),
        "faq_key": selector.get("intent_response_key"),
        "faq_confidence": float(selector.get("confidence") or 0.0),
    }


if __name__ == "__main__":
    import asyncio
    import json

    logging.basicConfig(level=logging.INFO)
    run_folds = int(sys.argv[4]) if len(sys.argv) > 4 else None
    output = asyncio.run(cross_validate(PROJECT_ROOT / sys.argv[1], int(sys.argv[2]), run_folds))
    Path(sys.argv[3]).write_text(json.dumps(output, ensure_ascii=False, indent=1), encoding="utf-8")
