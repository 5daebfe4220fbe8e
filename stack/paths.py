"""Where the two virtual environments and the generated files live."""

from __future__ import annotations

import os
from pathlib import Path

from core.settings import PROJECT_ROOT, VAR_DIR

VENVS_DIR = Path(os.environ.get("VENVS_DIR", PROJECT_ROOT / ".venvs"))
RASA_BIN = VENVS_DIR / "rasa" / "bin"
APP_BIN = VENVS_DIR / "app" / "bin"
MODELS_DIR = PROJECT_ROOT / "models"
LOG_DIR = VAR_DIR / "log"
STATUS_FILE = VAR_DIR / "run" / "stack-status.json"
