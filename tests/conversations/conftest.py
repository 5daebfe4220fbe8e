"""A whole running system for the conversation tests (its own, so their bookings touch no other test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack.ephemeral import start_ephemeral_stack
from tests.conversations.runner import Player


@pytest.fixture(scope="session")
def conversation_player(tmp_path_factory: pytest.TempPathFactory, rasa_model: Path) -> Iterator[Player]:
    stack = start_ephemeral_stack(tmp_path_factory.mktemp("conversations"), rasa_model)
    try:
        with httpx.Client(base_url=stack.api_url, timeout=60.0) as api:
            yield Player(api, stack.session_factory)
    finally:
        stack.stop()
