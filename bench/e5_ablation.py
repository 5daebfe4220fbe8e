"""Ablation on the dev split: config.yml with and without the e5 sentence features (rasa env).

    .venvs/rasa/bin/python -m bench.e5_ablation [output.json]

The dev split is fold 1 of bench/nlu_cv.py's 5 stratified folds of data/nlu (augmented.yml left out);
each variant is trained on the other four folds with `rasa train nlu` and parses the held-out fold.
"without e5" is config.yml minus the bot.e5_featurizer.E5Featurizer step: the same logistic regressions
on the word and char n-gram counts only, same thresholds. Reported per variant: intent accuracy (an
nlu_fallback counts as a miss), top-intent accuracy ignoring the fallback, FAQ-key accuracy, macro-F1,
training wall and CPU seconds, mean and p95 parse milliseconds. The frozen test sets are not used.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from bench.nlu_cv import GENERATED_FILES, PROJECT_ROOT, label_of, stratified_folds, train_fold
from bench.nlu_metrics import GoldRow, Prediction, base_intent, entity_pairs, score

E5_STEP = "bot.e5_featurizer.E5Featurizer"
DEV_FOLD, FOLDS = 0, 5


def without_e5(config_text: str) -> str:
    config = yaml.safe_load(config_text)
    config["pipeline"] = [step for step in config["pipeline"] if step["name"] != E5_STEP]
    return yaml.safe_dump(config, allow_unicode=True, sort_keys=False)


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def run_variant(config: Path, fold_data: Any, test_part: list[Any]) -> dict[str, Any]:
    from rasa.core.agent import Agent

    from tests.nlu.evaluate_parse import predicted_intent

    with tempfile.TemporaryDirectory(prefix="e5-ablation-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        (data_dir / "nlu.yml").write_text(fold_data.nlu_as_yaml(), encoding="utf-8")
        wall, cpu = time.perf_counter(), children_cpu_seconds()
        model = train_fold(config, data_dir, Path(tmp))
        train_wall, train_cpu = time.perf_counter() - wall, children_cpu_seconds() - cpu
        agent = Agent.load(str(model))
        await agent.parse_message("你好")  # first parse loads lazily-initialised pieces
        rows, predictions, top_right, parse_ms = [], [], 0, []
        for example in test_part:
            started = time.perf_counter()
            parse = await agent.parse_message(example.get("text"))
            parse_ms.append((time.perf_counter() - started) * 1000)
            gold = GoldRow(example.get("text"), label_of(example), entity_pairs(example.get("entities") or []))
            rows.append(gold)
            predictions.append(Prediction(predicted_intent(parse), entity_pairs(parse.get("entities", []))))
            top = next((r["name"] for r in parse.get("intent_ranking") or [] if r["name"] != "nlu_fallback"), None)
            top_right += top == base_intent(gold.label)
    result = score(rows, predictions)
    return {
        "examples": result["examples"],
        "intent_accuracy": result["intent_accuracy"],
        "top_intent_accuracy_ignoring_fallback": top_right / len(rows),
        "faq_key_accuracy": result["faq_key_accuracy"],
        "macro_f1": result["macro_f1"],
        "train_wall_s": train_wall,
        "train_cpu_s": train_cpu,
        "parse_ms_mean": statistics.fmean(parse_ms),
        "parse_ms_p95": statistics.quantiles(parse_ms, n=20)[-1],
    }


async def main(output: Path) -> None:
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.training_data import TrainingData

    files = sorted(p for p in (PROJECT_ROOT / "data" / "nlu").glob("*.yml") if p.name not in GENERATED_FILES)
    data = load_data(str(files[0])).merge(*(load_data(str(p)) for p in files[1:]))
    parts = stratified_folds(list(data.intent_examples), FOLDS)
    fold_data = TrainingData(
        training_examples=[ex for j, part in enumerate(parts) if j != DEV_FOLD for ex in part],
        entity_synonyms=data.entity_synonyms,
        regex_features=data.regex_features,
        lookup_tables=data.lookup_tables,
        responses=data.responses,
    )
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="e5-ablation-config-") as tmp:
        plain = Path(tmp) / "config_without_e5.yml"
        plain.write_text(without_e5((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8")), encoding="utf-8")
        for name, config in (("with_e5", PROJECT_ROOT / "config.yml"), ("without_e5", plain)):
            results[name] = await run_variant(config, fold_data, parts[DEV_FOLD])
            print(name, json.dumps(results[name]), flush=True)  # noqa: T201 - progress of a long CLI run
    output.write_text(json.dumps(results, indent=1), encoding="utf-8")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT_ROOT / "var" / "bench" / "e5_ablation.json"))
