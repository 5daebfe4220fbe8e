"""Starts a training worker process next to the API (the API process itself never trains)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping

from core.settings import PROJECT_ROOT, Settings, settings_environment
from training.settings import TrainingSettings

_children: list[tuple[subprocess.Popen[bytes], float]] = []  # with the time each started
# A worker that dies at start (a configuration error: its log says why) is not started again for this long,
# so polling the job page does not start one per poll.
RESTART_AFTER_SECONDS = 30.0
DIED_AT_START_SECONDS = 15.0
_died_at_start = float("-inf")


def worker_env(settings: Settings, training: TrainingSettings, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The API's configuration as environment variables, so the worker uses the same database and paths."""
    env = dict(os.environ if base is None else base)
    env.update(settings_environment(settings))
    env.update({f"TRAINING_{key.upper()}": str(value) for key, value in training.model_dump().items()})
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return env


def launch_worker(settings: Settings, training: TrainingSettings) -> int:
    """Starts `python -m training.worker` in its own session; it runs the queue and exits. Returns its pid.

    While a worker this process started is alive (it may still be starting: the queue looks stuck until it
    claims the job), that one's pid is returned; -1 while a worker that died at start is being waited out."""
    global _died_at_start
    now = time.monotonic()
    for child, started in list(_children):  # reap workers that finished
        if child.poll() is not None:
            _children.remove((child, started))
            if child.returncode != 0 and now - started < DIED_AT_START_SECONDS:
                _died_at_start = now
    if _children:
        return _children[0][0].pid
    if now - _died_at_start < RESTART_AFTER_SECONDS:
        return -1
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
    _children.append((child, now))
    return child.pid
