"""CRM test databases: every DB fixture runs once per backend ("sqlite" file, "postgresql" throwaway DB).

Databases are built by the Alembic migrations, never by create_all. One seeded database per backend is
shared read-only by the session (tests roll back); write tests get a migrated blank database that is
emptied after each test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crm.db import make_engine
from crm.migrate import upgrade_to_head
from crm.models import Base
from crm.seed import seed

PG_ADMIN_URL = os.environ.get("CRM_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
ANCHOR = date(2026, 11, 20)
BACKENDS = ["sqlite", "postgresql"]


class DatabaseFactory:
    """Creates fresh, migrated databases of one backend and removes them at the end of the session."""

    def __init__(self, backend: str, directory: Path) -> None:
        self.backend = backend
        self.directory = directory
        self._created: list[str] = []
        self._admin: Engine | None = None
        if backend == "postgresql":
            self._admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            try:
                with self._admin.connect():
                    pass
            except OperationalError as error:
                self._admin.dispose()
                pytest.skip(f"PostgreSQL unreachable at {make_url(PG_ADMIN_URL).render_as_string()}: {error}")

    def create(self, *, migrate: bool = True) -> str:
        name = f"crm_test_{uuid.uuid4().hex[:12]}"
        if self._admin is None:
            url = f"sqlite:///{self.directory / f'{name}.db'}"
        else:
            with self._admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        self._created.append(name)
        if migrate:
            upgrade_to_head(url)
        return url

    def drop_all(self) -> None:
        if self._admin is None:
            return
        with self._admin.connect() as connection:
            for name in self._created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


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
