"""Starts a training worker process next to the API (the API process itself never trains)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from core.settings import PROJECT_ROOT, Settings
from training.settings import TrainingSettings

_children: list[subprocess.Popen[bytes]] = []


def worker_env(settings: Settings, training: TrainingSettings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The API's configuration as environment variables, so the worker uses the same database and paths."""
    env = dict(os.environ if base is None else base)
    env.update({key.upper(): str(value) for key, value in settings.model_dump().items() if value is not None})
    env.update({f"TRAINING_{key.upper()}": str(value) for key, value in training.model_dump().items()})
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return env


def launch_worker(settings: Settings, training: TrainingSettings) -> int:
    """Starts `python -m training.worker` in its own session; it runs the queue and exits. Returns its pid."""
    for child in list(_children):  # reap workers that finished
        if child.poll() is not None:
            _children.remove(child)
    training.log_dir.mkdir(parents=True, exist_ok=True)
    with (training.log_dir / "training-worker.log").open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "training.worker"],
            cwd=PROJECT_ROOT,
            env=worker_env(settings, training),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children.append(child)
    return child.pid
