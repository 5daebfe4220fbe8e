"""/health tells a writable database from one that only answers reads."""

from __future__ import annotations

import sqlite3

from sqlalchemy.orm import Session, sessionmaker

from api.routers.health import database_readable, database_writable


def test_a_free_database_is_readable_and_writable(seeded_sessionmaker: sessionmaker[Session]) -> None:
    assert database_readable(seeded_sessionmaker)
    assert database_writable(seeded_sessionmaker)


def test_a_locked_database_is_readable_but_not_writable(
    seeded_sessionmaker: sessionmaker[Session], seeded_db_url: str
) -> None:
    holder = sqlite3.connect(seeded_db_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert database_readable(seeded_sessionmaker)
        assert not database_writable(seeded_sessionmaker)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert database_writable(seeded_sessionmaker)  # the connection went back to the pool in good shape


def test_a_read_only_database_is_not_writable(seeded_read_only_sessionmaker: sessionmaker[Session]) -> None:
    assert database_readable(seeded_read_only_sessionmaker)
    assert not database_writable(seeded_read_only_sessionmaker)


def test_the_write_probe_leaves_nothing_behind(seeded_sessionmaker: sessionmaker[Session], seeded_db_url: str) -> None:
    path = seeded_db_url.removeprefix("sqlite:///")
    before = sqlite3.connect(path).execute("SELECT version_num FROM alembic_version").fetchall()
    assert database_writable(seeded_sessionmaker)
    assert sqlite3.connect(path).execute("SELECT version_num FROM alembic_version").fetchall() == before
