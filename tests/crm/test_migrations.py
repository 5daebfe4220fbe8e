from sqlalchemy import inspect, text

from crm.db import make_engine
from crm.migrate import downgrade_to_base, schema_drift, upgrade_to_head
from crm.models import Base
from tests.crm.conftest import DatabaseFactory


def test_migrations_match_the_models(database_factory: DatabaseFactory) -> None:
    engine = make_engine(database_factory.create())
    try:
        with engine.connect() as connection:
            assert schema_drift(connection) == []
            assert set(Base.metadata.tables) <= set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_migrations_leave_foreign_tables_alone(database_factory: DatabaseFactory) -> None:
    """Rasa's SQL tracker store may keep its `events` table in the same database."""
    url = database_factory.create(migrate=False)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255))"))
            connection.execute(text("INSERT INTO events (id, sender_id) VALUES (1, 'web:u1:abc')"))
        upgrade_to_head(url)
        with engine.connect() as connection:
            assert schema_drift(connection) == []
        downgrade_to_base(url)
        upgrade_to_head(url)
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            assert "customer" in tables
            assert connection.execute(text("SELECT sender_id FROM events")).scalar_one() == "web:u1:abc"
    finally:
        engine.dispose()


def test_downgrade_removes_every_crm_table(database_factory: DatabaseFactory) -> None:
    url = database_factory.create()
    downgrade_to_base(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            remaining = set(inspect(connection).get_table_names()) & set(Base.metadata.tables)
        assert remaining == set()
    finally:
        engine.dispose()
