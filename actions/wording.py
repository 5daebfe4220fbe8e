"""Fills response texts from the domain inside a larger message (the wording stays in domain.yml)."""

from __future__ import annotations

from typing import Any

from rasa_sdk.types import DomainDict


def fill(domain: DomainDict, response: str, **values: Any) -> str:
    """The first variant of `response` with `{placeholders}` filled in."""
    return str(domain["responses"][response][0]["text"]).format(**values)
