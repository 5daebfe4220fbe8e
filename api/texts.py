"""Customer-facing texts loaded from YAML catalogs (wording is data, not code)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import yaml


class TextCatalog:
    """One YAML file of `key: text with {placeholders}`, read once on first use."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @cached_property
    def _texts(self) -> dict[str, str]:
        with self._path.open(encoding="utf-8") as handle:
            texts: dict[str, str] = yaml.safe_load(handle)
        return texts

    def __call__(self, key: str, **values: Any) -> str:
        """The text for `key` with `{placeholders}` filled in."""
        return self._texts[key].format(**values)


# The hub's own texts (errors, busy answers, agent-console notices).
text = TextCatalog(Path(__file__).with_name("texts.zh.yml"))
