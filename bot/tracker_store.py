"""Rasa's SQL tracker store, keeping its SQLite connections open (endpoints.yml names this class).

SQLAlchemy 1.4, which Rasa 3.6 pins, gives a file-based SQLite database a NullPool: every retrieve and
save of every turn opened a new connection (open the file, map the WAL index, read the schema), about a
quarter of the Rasa server's CPU under the benchmark load (bench/README.md). On SQLite this store keeps
a small pool of connections, in WAL mode (one append per commit; readers never wait for the writer)
with `synchronous = NORMAL` and a busy timeout, like the CRM database. PostgreSQL is left exactly as
Rasa configures it (already pooled).

If Rasa cannot import a custom tracker store it silently falls back to keeping conversations in memory,
so tests/bot/test_tracker_store.py and the end-to-end tests check that this class is the one in use.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy.pool import QueuePool

SQLITE_BUSY_TIMEOUT_SECONDS = 15


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


class PooledSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore with pooled, WAL-mode connections on SQLite; unchanged on other databases."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # connects, creates the tables, builds Rasa's own engine
        url = self.engine.url
        if self.engine.dialect.name != "sqlite" or url.database in (None, "", ":memory:"):
            return  # PostgreSQL pools already; an in-memory SQLite database must stay on one connection
        self.engine.dispose()
        self.engine = sa.create_engine(
            url,
            poolclass=QueuePool,
            pool_size=2,
            max_overflow=8,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
