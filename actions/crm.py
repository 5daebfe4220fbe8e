"""Runs CRM service calls from async actions: one transaction per call, off the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from crm.db import get_sessionmaker

T = TypeVar("T")


async def in_session(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Calls `fn(session, **kwargs)` in a transaction that commits, or rolls back on error."""

    def work() -> T:
        with get_sessionmaker().begin() as session:
            return fn(session, **kwargs)

    return await asyncio.to_thread(work)
