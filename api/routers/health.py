"""Liveness of the hub and of what it depends on."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import SettingsDep
from api.hub.probe import is_reachable

router = APIRouter(tags=["health"])


class HealthOut(BaseModel):
    status: str
    database: bool
    rasa: bool
    action_server: bool


@router.get("/health", response_model=HealthOut)
async def health(request: Request, response: Response, settings: SettingsDep) -> HealthOut:
    """200 when the database, Rasa and the action server all answer; 503 otherwise."""

    def database_ok() -> bool:
        try:
            with request.app.state.session_factory() as session:
                session.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    http: httpx.AsyncClient = request.app.state.http
    database, rasa, actions = await asyncio.gather(
        asyncio.to_thread(database_ok),
        is_reachable(http, settings.rasa_url.rstrip("/") + "/"),
        is_reachable(http, settings.action_health_url),
    )
    ok = database and rasa and actions
    response.status_code = 200 if ok else 503
    return HealthOut(status="ok" if ok else "degraded", database=database, rasa=rasa, action_server=actions)
