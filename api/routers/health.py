"""Liveness of the hub and of what it depends on, including whether the database takes writes."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from api.deps import SettingsDep
from api.hub.probe import reachable_each

router = APIRouter(tags=["health"])

# A write probe that cannot get the database's write lock in this time reports it unwritable.
WRITE_PROBE_TIMEOUT_SECONDS = 1.0


class HealthOut(BaseModel):
    status: str
    database: bool
    database_writable: bool
    rasa: bool  # some Rasa server answers whose action server answers too
    action_server: bool
    replicas: int  # Rasa + action-server pairs configured
    replicas_up: int  # pairs where both answer


def database_readable(factory: sessionmaker[Session]) -> bool:
    """Answers a query. Outside a write transaction (SQLite's BEGIN IMMEDIATE would wait for a writer)."""
    try:
        connection = factory.kw["bind"].raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            cursor.close()
            connection.rollback()
        finally:
            connection.close()
        return True
    except Exception:
        return False


def database_writable(factory: sessionmaker[Session], timeout_seconds: float = WRITE_PROBE_TIMEOUT_SECONDS) -> bool:
    """A real write (Alembic's version row rewritten to itself), rolled back: fails when locked or read-only.

    SQLite: the transaction takes the write lock up front (BEGIN IMMEDIATE, crm/db.py), so it fails when
    another writer holds it past the busy timeout (DB_BUSY_TIMEOUT_SECONDS) or the file is read-only.
    PostgreSQL: the row lock within `timeout_seconds`, on a server that accepts writes.
    """
    try:
        with factory() as session:
            connection = session.connection()
            if connection.dialect.name == "postgresql":
                milliseconds = int(timeout_seconds * 1000)
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{milliseconds}ms'")
                connection.exec_driver_sql(f"SET LOCAL statement_timeout = '{milliseconds}ms'")
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")
            session.rollback()
        return True
    except Exception:
        return False


@router.get("/health", response_model=HealthOut)
async def health(request: Request, response: Response, settings: SettingsDep) -> HealthOut:
    """200 when the database takes writes and some Rasa server and its action server answer; 503 otherwise."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    http: httpx.AsyncClient = request.app.state.http
    readable, writable, rasa_each, actions_each = await asyncio.gather(
        asyncio.to_thread(database_readable, factory),
        asyncio.to_thread(database_writable, factory),
        reachable_each(http, [url.rstrip("/") + "/" for url in settings.rasa_urls]),
        reachable_each(http, settings.action_health_urls),
    )
    # One pair down is not an outage: the hub moves its conversations to the others.
    pairs_up = sum(rasa and actions for rasa, actions in zip(rasa_each, actions_each, strict=True))
    ok = readable and writable and pairs_up > 0
    response.status_code = 200 if ok else 503
    return HealthOut(
        status="ok" if ok else "degraded",
        database=readable,
        database_writable=writable,
        rasa=any(rasa_each),
        action_server=any(actions_each),
        replicas=len(rasa_each),
        replicas_up=pairs_up,
    )
