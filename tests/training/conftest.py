"""Fixtures for the training tests: migrated databases (SQLite and PostgreSQL) and the tiny fixture project."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from crm.db import make_engine
from tests.crm.conftest import DatabaseFactory, database_factory  # noqa: F401 - re-exported fixture

PROJECT = Path(__file__).parent / "project"


@pytest.fixture
def training_db(database_factory: DatabaseFactory) -> Iterator[tuple[str, sessionmaker[Session]]]:  # noqa: F811
    """A fresh migrated database of each backend and a session factory on it."""
    url = database_factory.create()
    engine = make_engine(url)
    yield url, sessionmaker(engine, expire_on_commit=False)
    engine.dispose()
