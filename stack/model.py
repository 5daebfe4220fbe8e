"""Trains the Rasa model only when its inputs changed: the model file is named after their hash."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import time
from pathlib import Path

from core.settings import PROJECT_ROOT
from stack.paths import MODELS_DIR, RASA_BIN

logger = logging.getLogger(__name__)

# Everything `rasa train` reads, plus bot/ (custom components and stores load from there) and the CRM
# store/service vocabulary exported for the NLU (stack/nlu_entities.py, refreshed before every check).
MODEL_INPUTS = ("config.yml", "domain.yml", "data", "bot", "var/nlu/crm_entities.json")


def training_fingerprint(root: Path = PROJECT_ROOT) -> str:
    digest = hashlib.sha256()
    for name in MODEL_INPUTS:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        files = [f for f in files if f.exists()]  # the exported vocabulary is missing before the first export
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(root)).encode())
            digest.update(b"\0")
            digest.update(file.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path_for(fingerprint: str, models_dir: Path = MODELS_DIR) -> Path:
    return models_dir / f"model-{fingerprint}.tar.gz"


def rasa_env() -> dict[str, str]:
    """Environment for rasa commands: quiet TensorFlow/SQLAlchemy noise, bot/ importable."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        RASA_TELEMETRY_ENABLED="false",
    )
    return env


def ensure_model(models_dir: Path = MODELS_DIR) -> Path:
    """Returns the model for the current data/config, training it first if there is none."""
    from stack.nlu_entities import export

    export()  # the CRM's stores and services as they are now: a change there means a new model
    path = model_path_for(training_fingerprint(), models_dir)
    if path.exists():
        logger.info("Model is up to date: %s", path.name)
        return path
    models_dir.mkdir(parents=True, exist_ok=True)
    logger.info("Training the Rasa model (data, domain or config changed)...")
    started = time.monotonic()
    subprocess.run(
        [
            str(RASA_BIN / "rasa"),
            "train",
            "--out",
            str(models_dir),
            "--fixed-model-name",
            path.name.removesuffix(".tar.gz"),
        ],
        cwd=PROJECT_ROOT,
        env=rasa_env(),
        check=True,
    )
    logger.info("Trained %s in %.0f s", path.name, time.monotonic() - started)
    return path
