"""Real rasa_sdk trackers and a real (seeded SQLite) CRM database for action tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rasa_sdk import Tracker
from sqlalchemy.orm import Session, sessionmaker

from actions import lookup_guard

TrackerFactory = Callable[..., Tracker]


@pytest.fixture
def make_tracker() -> TrackerFactory:
    def make(
        *,
        slots: dict[str, Any] | None = None,
        intent: str = "greet",
        text: str = "",
        entities: list[dict[str, Any]] | None = None,
        response_selector: dict[str, Any] | None = None,
    ) -> Tracker:
        latest_message = {
            "text": text,
            "intent": {"name": intent, "confidence": 0.99},
            "entities": entities or [],
            "response_selector": response_selector or {},
        }
        return Tracker.from_dict(
            {
                "sender_id": "web:test",
                "slots": slots or {},
                "latest_message": latest_message,
                "events": [],
                "paused": False,
                "followup_action": None,
                "active_loop": {},
                "latest_action_name": "action_listen",
            }
        )

    return make


@pytest.fixture(autouse=True)
def crm_sessionmaker(
    seeded_sessionmaker: sessionmaker[Session],
    seeded_read_only_sessionmaker: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> sessionmaker[Session]:
    monkeypatch.setattr("actions.crm.get_sessionmaker", lambda: seeded_sessionmaker)
    # Lookups run read-only as in production: an action that wrote through them would fail its test.
    monkeypatch.setattr("actions.crm.get_read_only_sessionmaker", lambda: seeded_read_only_sessionmaker)
    return seeded_sessionmaker


@pytest.fixture(autouse=True)
def fresh_lookup_limits() -> Iterator[None]:
    """Each test starts with no failed lookups counted (the counters are process-wide without Redis)."""
    lookup_guard._limits.cache_clear()
    yield
    lookup_guard._limits.cache_clear()
