"""Fixtures shared across test folders: a migrated, seeded CRM database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from crm.db import make_engine
from stack.database import prepare_database
from stack.model import ensure_model


@pytest.fixture(scope="session")
def seeded_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated and seeded SQLite file, built once; tests copy it so each starts from the same data."""
    path = tmp_path_factory.mktemp("seeded") / "crm.db"
    prepare_database(f"sqlite:///{path}")
    return path


@pytest.fixture
def seeded_db_url(seeded_db_template: Path, tmp_path: Path) -> str:
    copy = tmp_path / "crm.db"
    copy.write_bytes(seeded_db_template.read_bytes())
    return f"sqlite:///{copy}"


@pytest.fixture
def seeded_sessionmaker(seeded_db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(seeded_db_url)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture
def seeded_read_only_sessionmaker(seeded_db_url: str) -> Iterator[sessionmaker[Session]]:
    """Read-only sessions on the same database as `seeded_sessionmaker` (crm.db's read_only engine)."""
    engine = make_engine(seeded_db_url, read_only=True)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


@pytest.fixture(scope="session")
def rasa_model() -> Path:
    """The model for the current data/, domain, config and bot/ (trained once, then reused by hash)."""
    return ensure_model()
