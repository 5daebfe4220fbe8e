"""bot/tracker_store.py runs inside the Rasa server: exercised with the rasa env's interpreter."""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

import pytest
import yaml

from core.settings import PROJECT_ROOT
from tests.bot.helpers import run_in_rasa_env

# Builds the tracker store the way Rasa does from endpoints.yml, keeps three turns of one conversation
# and reads them back, counting the SQLite connections opened on the way.
PROBE = """
import json, sys
import sqlalchemy as sa
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

domain = Domain.load("domain.yml")
store = TrackerStore.create(EndpointConfig(url=sys.argv[1], type=sys.argv[2]), domain=domain)
opened = []
sa.event.listen(store.engine, "connect", lambda *args: opened.append(1))

async def chat():
    tracker = DialogueStateTracker(sys.argv[3], domain.slots)
    for turn in range(3):
        tracker.update(UserUttered(f"turn {turn}"))
        tracker.update(SlotSet("customer_tier", "gold"))
        tracker.update(ActionExecuted("action_listen"))
        await store.save(tracker)
        tracker = await store.retrieve(sys.argv[3])
    return tracker

import asyncio
tracker = asyncio.run(chat())
mode = None
if store.engine.dialect.name == "sqlite":
    with store.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
print(json.dumps({
    "store": type(store).__name__,
    "pool": type(store.engine.pool).__name__,
    "texts": [e.text for e in tracker.events if isinstance(e, UserUttered)],
    "tier": tracker.get_slot("customer_tier"),
    "connections_opened": len(opened),
    "journal_mode": mode,
}))
"""


def run_probe(url: str, store_type: str) -> dict[str, object]:
    return json.loads(run_in_rasa_env(PROBE, url, store_type, f"probe-{uuid.uuid4().hex[:12]}"))


def test_endpoints_yml_names_the_pooled_store() -> None:
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    assert endpoints["tracker_store"]["type"] == "bot.tracker_store.PooledSQLTrackerStore"


def test_sqlite_conversations_are_kept_on_one_pooled_wal_connection(tmp_path: Path) -> None:
    report = run_probe(f"sqlite:///{tmp_path / 'tracker.db'}", "bot.tracker_store.PooledSQLTrackerStore")
    # Rasa silently falls back to an in-memory store when it cannot import a custom one.
    assert report["store"] == "PooledSQLTrackerStore"
    assert report["pool"] == "QueuePool"
    assert report["texts"] == ["turn 0", "turn 1", "turn 2"] and report["tier"] == "gold"
    assert report["connections_opened"] <= 1  # Rasa's own store opens one per retrieve and per save
    assert report["journal_mode"] == "wal"


def test_postgresql_is_left_as_rasa_configures_it() -> None:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        pytest.skip("PostgreSQL unreachable at 127.0.0.1:5432")
    report = run_probe("postgresql://postgres@127.0.0.1:5432/test", "bot.tracker_store.PooledSQLTrackerStore")
    assert report["store"] == "PooledSQLTrackerStore" and report["pool"] == "QueuePool"
    assert report["texts"] == ["turn 0", "turn 1", "turn 2"] and report["tier"] == "gold"
    assert report["journal_mode"] is None
