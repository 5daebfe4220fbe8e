"""Starts the real system once per test session: action server, Rasa (model trained from data/), API hub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack.ephemeral import EphemeralStack, start_ephemeral_stack

# The e2e tests' name for the running system.
LiveStack = EphemeralStack


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory, rasa_model: Path) -> Iterator[LiveStack]:
    stack = start_ephemeral_stack(tmp_path_factory.mktemp("stack"), rasa_model)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def api(live_stack: LiveStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_stack.api_url, timeout=30.0) as client:
        yield client
