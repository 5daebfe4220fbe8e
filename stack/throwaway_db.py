"""Throwaway PostgreSQL databases for the tests and the benchmarks: created empty, dropped at the end.

The admin URL (any database of a server whose user may CREATE DATABASE) comes from
CRM_TEST_PG_ADMIN_URL; the default is the machine's local server with trust auth.
"""

from __future__ import annotations

import os
import uuid

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

PG_ADMIN_URL = os.environ.get("CRM_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


class PostgresUnreachable(RuntimeError):
    pass


class ThrowawayPostgres:
    """Creates uniquely named databases on one server and drops them (even with open connections)."""

    def __init__(self, admin_url: str = PG_ADMIN_URL) -> None:
        self.admin_url = admin_url
        self._admin: Engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self._created: list[str] = []
        try:
            with self._admin.connect():
                pass
        except OperationalError as error:
            self._admin.dispose()
            where = make_url(admin_url).render_as_string()
            raise PostgresUnreachable(f"PostgreSQL unreachable at {where}: {error}") from error

    def create(self, prefix: str) -> str:
        """A new empty database named `<prefix>_<random>`; returns its URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self._admin.connect() as connection:
            for name in self._created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._created.clear()
        self._admin.dispose()
