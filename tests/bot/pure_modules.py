"""Loads a pure-Python module of bot/ into the app env by file path.

Importing the `bot` package runs bot/__init__.py, which needs rasa-env packages; modules such as
bot/id_entities.py or bot/text_normalise.py need none and are tested (and reused) here directly.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BOT_DIR = Path(__file__).resolve().parents[2] / "bot"


def load_bot_module(name: str) -> ModuleType:
    qualified = f"bot_pure_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    spec = importlib.util.spec_from_file_location(qualified, BOT_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module
