"""bot/text_normalise.py's functions for app-env code (tests, benchmarks)."""

from __future__ import annotations

from tests.bot.pure_modules import load_bot_module

_module = load_bot_module("text_normalise")
normalise_text = _module.normalise_text
comparison_key = _module.comparison_key
