"""`rasa data validate` on an exported copy of the training inputs (repository files + ops edits).

Runs the rasa env's CLI in a subprocess on a temporary folder, so the API process never imports Rasa;
the refusal quotes Rasa's own error and warning lines.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from core.settings import PROJECT_ROOT
from crm.services.content import InvalidContentError

RASA_BIN = PROJECT_ROOT / ".venvs" / "rasa" / "bin" / "rasa"
# Copied as they are: what `rasa data validate` reads besides the editable documents.
_STATIC_INPUTS = ("config.yml", "data", "domain.yml")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PROBLEM = re.compile(r"\b(ERROR|WARNING)\s+rasa\.|Exception|Error:")


def export(documents: dict[str, str], target: Path, root: Path = PROJECT_ROOT) -> None:
    """Write the training inputs to `target`: repository files overlaid with `documents` (path → text)."""
    for name in _STATIC_INPUTS:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, target / name, dirs_exist_ok=True)
        elif source.is_file():
            shutil.copy2(source, target / name)
    for path, text in documents.items():
        file = target / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")


def available() -> bool:
    return RASA_BIN.is_file()


def validate(documents: dict[str, str], *, timeout_seconds: float = 120.0) -> None:
    """Raise InvalidContentError with Rasa's complaint when `rasa data validate --fail-on-warnings` fails."""
    with tempfile.TemporaryDirectory(prefix="ops-validate-") as folder:
        work = Path(folder)
        export({path: text for path, text in documents.items() if not path.startswith("tests/")}, work)
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "RASA_TELEMETRY_ENABLED": "false"}
        try:
            result = subprocess.run(
                [str(RASA_BIN), "data", "validate", "--fail-on-warnings"],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise InvalidContentError(
                "rasa_validate_failed", problem=f"timed out after {timeout_seconds:.0f}s"
            ) from error
    if result.returncode == 0:
        return
    raise InvalidContentError("rasa_validate_failed", problem=problems(result.stdout + "\n" + result.stderr))


def problems(output: str) -> str:
    """Rasa's error and warning log lines with their indented continuation lines, on one line."""
    found: list[str] = []
    keep = False
    for raw in output.splitlines():
        line = _ANSI.sub("", raw).rstrip()
        if _PROBLEM.search(line):
            found.append(re.sub(r"^.*?\b(ERROR|WARNING)\s+", "", line).strip())
            keep = True
        elif keep and raw.startswith("  ") and line.strip():
            found[-1] += " " + line.strip()
        else:
            keep = False
    return " | ".join(found[-3:]) or "rasa data validate failed"
