"""CRM test databases: every DB fixture runs once per backend ("sqlite" file, "postgresql" throwaway DB).

Databases are built by the Alembic migrations, never by create_all. One seeded database per backend is
shared read-only by the session (tests roll back); write tests get a migrated blank database that is
emptied after each test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from crm.db import make_engine
from crm.migrate import upgrade_to_head
from crm.models import Base
from crm.seed import seed
from stack.throwaway_db import PostgresUnreachable, ThrowawayPostgres

ANCHOR = date(2026, 11, 20)
BACKENDS = ["sqlite", "postgresql"]


class DatabaseFactory:
    """Creates fresh, migrated databases of one backend and removes them at the end of the session."""

    def __init__(self, backend: str, directory: Path) -> None:
        self.backend = backend
        self.directory = directory
        self._postgres: ThrowawayPostgres | None = None
        if backend == "postgresql":
            try:
                self._postgres = ThrowawayPostgres()
            except PostgresUnreachable as error:
                pytest.skip(str(error))

    def create(self, *, migrate: bool = True) -> str:
        if self._postgres is None:
            url = f"sqlite:///{self.directory / f'crm_test_{uuid.uuid4().hex[:12]}.db'}"
        else:
            url = self._postgres.create("crm_test")
        if migrate:
            upgrade_to_head(url)
        return url

    def drop_all(self) -> None:
        if self._postgres is not None:
            self._postgres.drop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def database_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(request.param, tmp_path_factory.mktemp(f"crm-{request.param}"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def backend(database_factory: DatabaseFactory) -> str:
    return database_factory.backend


@pytest.fixture(scope="session")
def seeded_engine(database_factory: DatabaseFactory) -> Iterator[Engine]:
    """A database seeded once with the fixed ANCHOR date; do not commit to it."""
    engine = make_engine(database_factory.create())
    with sessionmaker(engine).begin() as session:
        seed(session, anchor=ANCHOR)
    yield engine
    engine.dispose()


@pytest.fixture
def seeded_session(seeded_engine: Engine) -> Iterator[Session]:
    """A session on the seeded database whose changes are rolled back."""
    session = Session(seeded_engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture(scope="session")
def _blank_engine(database_factory: DatabaseFactory) -> Iterator[Engine]:
    engine = make_engine(database_factory.create())
    yield engine
    engine.dispose()


@pytest.fixture
def blank_engine(_blank_engine: Engine) -> Iterator[Engine]:
    """A migrated, empty database; every row is deleted again after the test."""
    yield _blank_engine
    with _blank_engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())


@pytest.fixture
def blank_sessionmaker(blank_engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(blank_engine, expire_on_commit=False)
