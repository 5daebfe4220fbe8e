"""Engine and session factories for the CRM database."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from core.settings import get_settings


def busy_timeout_ms() -> int:
    """How long a transaction waits for a lock: DB_BUSY_TIMEOUT_SECONDS (part of the message time budget)."""
    return int(get_settings().db_busy_timeout_seconds * 1000)


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    """Create an engine for `url`; SQLite also gets the pragmas and locking to share a file.

    `read_only` engines refuse writes (SQLite `query_only`, PostgreSQL read-only transactions). On SQLite
    they also skip the write lock that every other transaction takes up front, so lookups (FAQ answers,
    orders, stores) never queue behind the hub's and the action server's writes.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        if read_only:
            kwargs.setdefault("execution_options", {"postgresql_readonly": True})
        if parsed.get_backend_name() == "postgresql":
            kwargs.setdefault("connect_args", {"options": f"-c lock_timeout={busy_timeout_ms()}"})
        return create_engine(url, pool_pre_ping=True, **kwargs)
    connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": busy_timeout_ms() / 1000}
    if parsed.database in (None, "", ":memory:"):
        kwargs.setdefault("poolclass", StaticPool)
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    _configure_sqlite(engine, read_only=read_only)
    return engine


def _configure_sqlite(engine: Engine, *, read_only: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin); pysqlite's implicit transactions break SAVEPOINT.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms()}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        if read_only:
            cursor.execute("PRAGMA query_only = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front and honours busy_timeout. A deferred transaction that
        # reads and then writes fails at once with SQLITE_BUSY when another process wrote in between,
        # which is exactly the read-then-insert pattern of the hub and the action server. A read-only
        # transaction never writes: in WAL mode it reads a consistent snapshot without any lock.
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for `settings.database_url`, created on first use."""
    return make_engine(get_settings().database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    """The process-wide session factory; use `with get_sessionmaker().begin() as session:` at a boundary."""
    return sessionmaker(get_engine(), expire_on_commit=False)


@lru_cache
def get_read_only_sessionmaker() -> sessionmaker[Session]:
    """Sessions for lookups that never write (a write fails); same database as get_sessionmaker()."""
    return sessionmaker(make_engine(get_settings().database_url, read_only=True), expire_on_commit=False)
