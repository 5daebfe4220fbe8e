"""Customer-facing texts of the WeChat channel (texts.zh.yml beside this file)."""

from __future__ import annotations

from pathlib import Path

from api.texts import TextCatalog

wechat_text = TextCatalog(Path(__file__).with_name("texts.zh.yml"))
