"""Customer-facing texts of the WeChat channel, loaded from texts.zh.yml (wording is data, not code)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_TEXTS_FILE = Path(__file__).with_name("texts.zh.yml")


@lru_cache
def _texts() -> dict[str, str]:
    with _TEXTS_FILE.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def wechat_text(key: str, **values: Any) -> str:
    """The text for `key` with `{placeholders}` filled in."""
    return _texts()[key].format(**values)
