"""Runs `rasa train` and `rasa test` in the rasa env: Rasa's full output to a log file, progress to a callback."""

from __future__ import annotations

import codecs
import os
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.settings import PROJECT_ROOT
from training.progress import Progress, ProgressTracker, failure_reason, readable_lines, split_output

VENVS_DIR = Path(os.environ.get("VENVS_DIR", PROJECT_ROOT / ".venvs"))
RASA_BIN = VENVS_DIR / "rasa" / "bin"
LOG_TAIL_LINES = 40
REPORT_EVERY_SECONDS = 0.5

ProgressCallback = Callable[[Progress, str], None]


class TrainingFailedError(RuntimeError):
    """rasa train (or test) exited with an error; the message says why in plain words."""


def rasa_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for rasa commands: quiet TensorFlow/SQLAlchemy noise, bot/ importable."""
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        RASA_TELEMETRY_ENABLED="false",
    )
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class RunResult:
    returncode: int
    log_tail: str
    reason: str | None


def run_streamed(
    argv: Sequence[str],
    *,
    cwd: Path,
    log_path: Path,
    tracker: ProgressTracker | None = None,
    on_progress: ProgressCallback | None = None,
    env: dict[str, str] | None = None,
) -> RunResult:
    """Runs a rasa command, appending its whole output to `log_path` and reporting progress as it goes."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    tail: deque[str] = deque(maxlen=400)
    last_report = 0.0
    pending = ""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with log_path.open("ab") as log:
        log.write(f"\n$ {' '.join(argv)}  (in {cwd})\n".encode())
        log.flush()
        process = subprocess.Popen(
            list(argv), cwd=cwd, env=env or rasa_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert process.stdout is not None
        while chunk := os.read(process.stdout.fileno(), 4096):
            log.write(chunk)
            log.flush()
            pending += decoder.decode(chunk)
            parts = pending.replace("\r", "\n").split("\n")
            complete, pending = parts[:-1], parts[-1]
            changed = False
            for line in complete:
                if not line.strip():
                    continue
                tail.append(line)
                if tracker is not None and tracker.feed(line):
                    changed = True
            now = time.monotonic()
            if on_progress and tracker and changed and now - last_report >= REPORT_EVERY_SECONDS:
                last_report = now
                on_progress(tracker.progress, _tail_text(tail))
        if pending.strip():
            tail.extend(split_output(pending))
            if tracker is not None:
                tracker.feed(pending)
        returncode = process.wait()
    lines = list(tail)
    if on_progress and tracker:
        on_progress(tracker.progress, _tail_text(tail))
    return RunResult(returncode, _tail_text(tail), None if returncode == 0 else failure_reason(lines))


def _tail_text(lines: deque[str]) -> str:
    return "\n".join(readable_lines(lines)[-LOG_TAIL_LINES:])


def train(
    project: Path,
    out_dir: Path,
    name: str,
    *,
    log_path: Path,
    cache_dir: Path | None = None,
    on_progress: ProgressCallback | None = None,
    force: bool = False,
) -> Path:
    """`rasa train` of `project` into `out_dir/<name>.tar.gz`; TrainingFailedError says why it failed."""
    tracker = ProgressTracker.for_config_text((project / "config.yml").read_text(encoding="utf-8"))
    tracker.set_phase("validating")
    out_dir.mkdir(parents=True, exist_ok=True)
    argv = [str(RASA_BIN / "rasa"), "train", "--out", str(out_dir), "--fixed-model-name", name]
    if force:
        argv.append("--force")
    # Warnings only go to the log file anyway; without them the log tail shows what matters.
    extra = {"PYTHONWARNINGS": "ignore"}
    if cache_dir is not None:
        extra["RASA_CACHE_DIRECTORY"] = str(cache_dir)
    result = run_streamed(
        argv, cwd=project, log_path=log_path, tracker=tracker, on_progress=on_progress, env=rasa_env(extra)
    )
    model = out_dir / f"{name}.tar.gz"
    if result.returncode != 0 or not model.exists():
        raise TrainingFailedError(result.reason or f"rasa train produced no model (see {log_path})")
    return model
