"""Rasa's own checks on data/, domain.yml and the test stories, run in the rasa env."""

from __future__ import annotations

import subprocess
from pathlib import Path

from core.settings import PROJECT_ROOT
from stack.model import rasa_env
from stack.paths import RASA_BIN


def run_rasa(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RASA_BIN / "rasa"), *args],
        cwd=PROJECT_ROOT,
        env=rasa_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def tail(result: subprocess.CompletedProcess[str], lines: int = 40) -> str:
    return "\n".join((result.stdout + result.stderr).splitlines()[-lines:])


def test_rasa_data_validate_passes_without_warnings() -> None:
    result = run_rasa("data", "validate", "--fail-on-warnings")
    assert result.returncode == 0, tail(result)


def test_test_stories_have_no_prediction_errors(rasa_model: Path, tmp_path: Path) -> None:
    result = run_rasa(
        "test",
        "core",
        "--stories",
        "tests/stories",
        "--model",
        str(rasa_model),
        "--fail-on-prediction-errors",
        "--out",
        str(tmp_path),
    )
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text(encoding="utf-8") if failed.exists() else ""
    assert result.returncode == 0, f"{tail(result)}\n{details}"
