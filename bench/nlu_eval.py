"""NLU benchmark (rasa env): our pipeline vs Rasa's default Chinese pipeline vs TF-IDF + logistic regression.

Usage (repo root, rasa env, PYTHONPATH=.):
  python -m bench.nlu_eval --ours MODEL.tar.gz --eval tests/nlu/independent_test.jsonl \
      --eval tests/nlu/test_nlu.jsonl [--cv-folds 5] --out nlu.json

Every --eval file is scored by the three systems (each model is loaded once). With --cv-folds N,
our pipeline (config.yml) is also cross-validated on data/nlu: N stratified folds, N trainings.

(a) and (b) are loaded with rasa's Agent and scored on `agent.parse_message`, exactly what the server
answers (FallbackClassifier's nlu_fallback is a miss). (b) is trained here from data/nlu + domain.yml
with bench/configs/rasa_default_zh.yml, cached under var/bench/models by a hash of its inputs.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.nlu_metrics import EvalFile, GoldRow, Prediction, load_eval_file, score
from bench.patterns import compile_patterns, extract_entities

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "bench" / "configs" / "rasa_default_zh.yml"
BENCH_MODELS = PROJECT_ROOT / "var" / "bench" / "models"
RASA = Path(sys.executable).parent / "rasa"

logger = logging.getLogger("bench.nlu_eval")


def _fingerprint(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for file in files:
            digest.update(str(file.relative_to(PROJECT_ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def ensure_default_model(retrain: bool) -> tuple[Path, float | None]:
    """The baseline (b) model for the current data; returns (path, training seconds or None if reused)."""
    inputs = [PROJECT_ROOT / "data" / "nlu", PROJECT_ROOT / "domain.yml", DEFAULT_CONFIG]
    name = f"rasa-default-zh-{_fingerprint(inputs)}"
    path = BENCH_MODELS / f"{name}.tar.gz"
    if path.exists() and not retrain:
        logger.info("Baseline (b) is up to date: %s", path.name)
        return path, None
    BENCH_MODELS.mkdir(parents=True, exist_ok=True)
    logger.info("Training baseline (b) with %s ...", DEFAULT_CONFIG.name)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache:
        env = {
            **os.environ,
            "RASA_CACHE_DIRECTORY": cache,
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
        }
        subprocess.run(
            [
                str(RASA),
                "train",
                "nlu",
                "-c",
                str(DEFAULT_CONFIG),
                "-u",
                "data/nlu",
                "-d",
                "domain.yml",
                "--out",
                str(BENCH_MODELS),
                "--fixed-model-name",
                name,
                "--quiet",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    for stale in BENCH_MODELS.glob("rasa-default-zh-*.tar.gz"):
        if stale != path:
            stale.unlink()  # only the model of the current inputs is worth keeping
    return path, time.perf_counter() - started


def training_labels() -> tuple[Any, set[str]]:
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(PROJECT_ROOT / "data" / "nlu"))
    labels = {ex.get("intent_response_key") or ex.get("intent") for ex in data.intent_examples}
    return data, {label for label in labels if label}


def predicted_label(parse: dict[str, Any]) -> str:
    """tests/nlu/evaluate_parse.py's label (faq/<key>), also for a ResponseSelector without `retrieval_intent`.

    Such a selector (baseline (b), all defaults) answers under the key "default" instead of "faq".
    """
    from tests.nlu.evaluate_parse import predicted_intent

    label = predicted_intent(parse)
    if label == "faq":
        default = parse.get("response_selector", {}).get("default", {}).get("response", {})
        return default.get("intent_response_key") or label
    return label


async def agent_predictions(agent: Any, rows: list[GoldRow]) -> tuple[list[Prediction], float, float]:
    """Parse every row with the loaded model the way the server does.

    Returns the predictions and the mean wall and CPU seconds per parse: CPU time is what a message costs
    this process; wall time also counts waiting for the cores other processes are using.
    """
    predictions = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for row in rows:
        parse = await agent.parse_message(row.text)
        entities = tuple((e["entity"], str(e["value"])) for e in parse.get("entities", []))
        predictions.append(Prediction(predicted_label(parse), entities))
    return (
        predictions,
        (time.perf_counter() - started) / len(rows),
        (time.process_time() - cpu_started) / len(rows),
    )


def tfidf_classifier(training_data: Any) -> tuple[Any, float]:
    """Baseline (c): char n-gram TF-IDF + logistic regression; entities from the data/nlu patterns.

    Returns a function rows -> (predictions, mean predict seconds) and the training seconds.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = [ex.get("text") for ex in training_data.intent_examples]
    labels = [ex.get("intent_response_key") or ex.get("intent") for ex in training_data.intent_examples]
    started = time.perf_counter()
    classifier = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True),
        LogisticRegression(C=10.0, max_iter=3000),
    )
    classifier.fit(texts, labels)
    train_seconds = time.perf_counter() - started
    patterns = compile_patterns(
        [(r["name"], r["pattern"]) for r in training_data.regex_features],
        [(t["name"], t["elements"]) for t in training_data.lookup_tables],
    )
    synonyms = dict(training_data.entity_synonyms)

    def predict(rows: list[GoldRow]) -> tuple[list[Prediction], float]:
        started = time.perf_counter()
        predicted = classifier.predict([row.text for row in rows])
        predictions = [
            Prediction(str(label), tuple(extract_entities(row.text, patterns, synonyms)))
            for row, label in zip(rows, predicted, strict=True)
        ]
        return predictions, (time.perf_counter() - started) / len(rows)

    return predict, train_seconds


async def score_file(eval_path: Path, known: set[str], agents: dict[str, Any], tfidf: Any) -> dict[str, Any]:
    eval_file: EvalFile = load_eval_file(eval_path, known)
    if eval_file.unknown:
        logger.warning(
            "%s: %d rows with labels unknown to the training data (not scored): %s",
            eval_path.name,
            len(eval_file.unknown),
            ", ".join(eval_file.unknown_labels),
        )
    systems: dict[str, Any] = {}
    for key, (agent, model) in agents.items():
        logger.info("Scoring %s (%s) on %s", key, model.name, eval_path.name)
        predictions, parse_seconds, parse_cpu_seconds = await agent_predictions(agent, eval_file.rows)
        systems[key] = {
            **score(eval_file.rows, predictions),
            "model": model.name,
            "mean_parse_seconds": parse_seconds,
            "mean_parse_cpu_seconds": parse_cpu_seconds,
        }
    predictions, predict_seconds = tfidf(eval_file.rows)
    systems["tfidf_logreg"] = {
        **score(eval_file.rows, predictions),
        "model": "in-memory",
        "mean_parse_seconds": predict_seconds,
    }
    return {
        "eval_file": str(eval_path),
        "rows": len(eval_file.rows) + len(eval_file.unknown),
        "scored_rows": len(eval_file.rows),
        "unknown_rows": len(eval_file.unknown),
        "unknown_labels": eval_file.unknown_labels,
        "systems": systems,
    }


async def evaluate(ours: Path, eval_paths: list[Path], retrain: bool, cv_folds: int) -> dict[str, Any]:
    from rasa.core.agent import Agent

    training_data, known = training_labels()
    default_model, default_train_seconds = ensure_default_model(retrain)
    agents = {key: (Agent.load(str(model)), model) for key, model in (("ours", ours), ("rasa_default", default_model))}
    tfidf, tfidf_train_seconds = tfidf_classifier(training_data)
    sets = []
    for eval_path in eval_paths:
        result = await score_file(eval_path, known, agents, tfidf)
        result["training_examples"] = len(training_data.intent_examples)
        result["systems"]["rasa_default"]["train_seconds"] = default_train_seconds
        result["systems"]["tfidf_logreg"]["train_seconds"] = tfidf_train_seconds
        sets.append(result)
    output: dict[str, Any] = {"sets": sets}
    if cv_folds > 1:
        from bench.nlu_cv import cross_validate

        output["cross_validation"] = await cross_validate(PROJECT_ROOT / "config.yml", cv_folds)
    return output


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("rasa", "tensorflow", "absl", "jieba"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ours", type=Path, required=True, help="our trained model (stack.model.ensure_model)")
    parser.add_argument("--eval", type=Path, action="append", required=True, help="JSONL test set (repeatable)")
    parser.add_argument("--cv-folds", type=int, default=0, help="cross-validate config.yml on data/nlu (0: no)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--retrain-default", action="store_true", help="train (b) even if cached")
    args = parser.parse_args()
    result = asyncio.run(evaluate(args.ours, args.eval, args.retrain_default, args.cv_folds))
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
