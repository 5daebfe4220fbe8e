"""Brings the CRM database to the current schema and seeds the demo tenant once."""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from crm.db import make_engine
from crm.migrate import upgrade_to_head
from crm.seed import seed_demo_tenant

logger = logging.getLogger(__name__)


def prepare_database(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            seeded = seed_demo_tenant(session)
        logger.info("Demo tenant %s", "seeded" if seeded else "already present")
    finally:
        engine.dispose()


def prepare_tracker_database(tracker_url: str) -> None:
    """Puts a SQLite tracker-store file in WAL mode before Rasa creates its tables (PostgreSQL: nothing to do).

    Rasa commits the new events of every turn and opens SQLite with its defaults (a rollback journal
    written, synced and deleted per commit). WAL mode is stored in the file itself, so Rasa's own
    connections use it: one append per commit, and reads never wait for a writer.
    """
    url = make_url(tracker_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    path = Path(url.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path)) as connection:
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        logger.warning("Tracker store %s stays in journal mode %s", path, mode)
