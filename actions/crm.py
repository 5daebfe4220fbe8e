"""Runs CRM service calls from async actions: one transaction per call, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from crm.db import get_read_only_sessionmaker, get_sessionmaker

T = TypeVar("T")


async def in_session(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Calls `fn(session, **kwargs)` in a transaction that commits, or rolls back on error."""
    return await _in_transaction(get_sessionmaker(), fn, kwargs)


async def in_read_only_session(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Calls a lookup `fn(session, **kwargs)` in a read-only transaction (never waits for a writer)."""
    return await _in_transaction(get_read_only_sessionmaker(), fn, kwargs)


async def _in_transaction(factory: sessionmaker[Session], fn: Callable[..., T], kwargs: dict[str, Any]) -> T:
    def work() -> T:
        with factory.begin() as session:
            return fn(session, **kwargs)

    return await asyncio.to_thread(work)
