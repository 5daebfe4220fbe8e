"""Trains the Rasa model only when its inputs changed: the model file is named after their hash.

The work is done by the `training` package (the same one the ops console and the benchmark use); this
module keeps the launcher's entry point and prints progress instead of Rasa's output (that goes to
var/log/train.log).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from core.settings import PROJECT_ROOT
from stack.paths import LOG_DIR, MODELS_DIR
from training import project
from training.console import ConsoleProgress
from training.rasa_cli import rasa_env as rasa_env
from training.rasa_cli import train

logger = logging.getLogger(__name__)

MODEL_INPUTS = project.MODEL_INPUTS


def training_fingerprint(root: Path = PROJECT_ROOT) -> str:
    return project.training_fingerprint(root)


def model_path_for(fingerprint: str, models_dir: Path = MODELS_DIR) -> Path:
    return project.model_path_for(fingerprint, models_dir)


def ensure_model(models_dir: Path = MODELS_DIR) -> Path:
    """Returns the model for the current data/config, training it first if there is none."""
    from stack.nlu_entities import export

    export()  # the CRM's stores and services as they are now: a change there means a new model
    path = model_path_for(training_fingerprint(), models_dir)
    if path.exists():
        logger.info("Model is up to date: %s", path.name)
        return path
    models_dir.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / "train.log"
    console = ConsoleProgress()
    console.finish(f"Training the Rasa model (data, domain or config changed); Rasa's log: {log_path}")
    started = time.monotonic()
    train(PROJECT_ROOT, models_dir, path.name.removesuffix(".tar.gz"), log_path=log_path, on_progress=console)
    console.finish(f"Trained {path.name} in {time.monotonic() - started:.0f} s")
    return path
