"""Small readers of what an action returned, shared by the action tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rasa_sdk.executor import CollectingDispatcher

from core.settings import PROJECT_ROOT

# The real domain, so tests see the wording and buttons customers see.
DOMAIN: dict[str, Any] = yaml.safe_load(Path(PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))


def slot_values(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The slots the events set: {name: value}."""
    return {event["name"]: event["value"] for event in events if event["event"] == "slot"}


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    """The response names the action uttered, in order."""
    return [message["response"] for message in dispatcher.messages]
