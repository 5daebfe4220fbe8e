"""An overrides provider for the end-to-end tests (TRAINING_OVERRIDES_PROVIDER=tests.training.overrides:from_file):
the ops-edited files are a JSON object {relative path: text} in the file named by TRAINING_TEST_OVERRIDES_FILE."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy.orm import Session

ENV = "TRAINING_TEST_OVERRIDES_FILE"


def from_file(session: Session) -> dict[str, str]:
    path = os.environ.get(ENV)
    if not path or not Path(path).exists():
        return {}
    overrides: dict[str, str] = json.loads(Path(path).read_text(encoding="utf-8"))
    return overrides
