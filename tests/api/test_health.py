"""/health tells a writable database from one that only answers reads."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.routers.health import database_readable, database_writable
from crm.db import busy_timeout_ms, make_engine
from crm.migrate import upgrade_to_head
from stack.throwaway_db import PostgresUnreachable, ThrowawayPostgres


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


@pytest.fixture
def postgres_url() -> Iterator[str]:
    try:
        databases = ThrowawayPostgres()
    except PostgresUnreachable as error:
        pytest.skip(str(error))
    try:
        url = databases.create("health_test")
        upgrade_to_head(url)
        yield url
    finally:
        databases.drop_all()


def test_on_postgresql_a_locked_row_or_a_read_only_server_is_not_writable(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    factory = sessionmaker(engine)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SHOW lock_timeout")).scalar_one() == f"{busy_timeout_ms()}ms"
        assert database_writable(factory)

        with engine.connect() as holder:
            holder.execute(text("SELECT version_num FROM alembic_version FOR UPDATE"))
            started = time.monotonic()
            assert not database_writable(factory)
            assert time.monotonic() - started < 5
            assert database_readable(factory)
            holder.rollback()
        assert database_writable(factory)

        name = make_url(postgres_url).database
        with engine.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
            connection.commit()
        engine.dispose()  # new connections get the read-only default
        assert database_readable(factory)
        assert not database_writable(factory)
    finally:
        engine.dispose()
