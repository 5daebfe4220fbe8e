"""Fixtures for the API tests: the widget client on a module's fake Rasa, Redis (skips when it is not running),
broker namespaces, PostgreSQL databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Protocol

import httpx
import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from core.settings import Settings
from crm.db import make_engine
from stack.database import prepare_database
from tests.crm.conftest import DatabaseFactory

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
# Signs the widget identities in the API tests.
SECRET = "test-secret"


class HandlesRasaRequests(Protocol):
    def handle(self, request: httpx.Request) -> httpx.Response: ...


@pytest.fixture
def client(seeded_sessionmaker: sessionmaker[Session], fake_rasa: HandlesRasaRequests) -> Iterator[TestClient]:
    """The app on the seeded CRM, with Rasa (and the action server) answered by the module's `fake_rasa`."""
    settings = Settings(widget_secret=SECRET, rasa_url="http://rasa.internal:5005", rasa_timeout_seconds=1.0)
    app = create_app(seeded_sessionmaker, settings, httpx.MockTransport(fake_rasa.handle))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.skip(f"Redis unreachable at {REDIS_URL}: {error}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def namespace() -> str:
    """A namespace of the test's own, so runs sharing one Redis never see each other's events."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def _postgres_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory("postgresql", tmp_path_factory.mktemp("hub-pg"))
    yield factory
    factory.drop_all()


@pytest.fixture
def postgres_seeded_url(_postgres_factory: DatabaseFactory) -> str:
    """A fresh, migrated and seeded PostgreSQL database of the test's own (skips when PostgreSQL is down)."""
    url = _postgres_factory.create(migrate=False)
    prepare_database(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_seeded_sessionmaker(request: pytest.FixtureRequest) -> Iterator[sessionmaker[Session]]:
    """The seeded demo database on each backend: concurrency is only real on PostgreSQL."""
    fixture = "seeded_db_url" if request.param == "sqlite" else "postgres_seeded_url"
    engine = make_engine(request.getfixturevalue(fixture))
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()
