"""Runs a probe script with the rasa env's interpreter: code in bot/ runs inside the Rasa server."""

from __future__ import annotations

import subprocess

from core.settings import PROJECT_ROOT
from stack.model import rasa_env
from stack.paths import RASA_BIN


def run_in_rasa_env(probe: str, *args: str, env_extra: dict[str, str] | None = None, timeout: float = 180) -> str:
    """`python -c probe args...` in the rasa env from the project root; returns the last line it printed."""
    result = subprocess.run(
        [str(RASA_BIN / "python"), "-c", probe, *args],
        cwd=PROJECT_ROOT,
        env={**rasa_env(), **(env_extra or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]
