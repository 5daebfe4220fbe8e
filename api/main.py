"""The API service: front door for every channel and the conversation hub."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from api.channels import widget
from api.errors import error_body, install_error_handlers
from api.hub.conversation_hub import ConversationHub
from api.hub.probe import RecentlyAlive, is_reachable
from api.hub.rasa_client import RasaClient
from api.routers import agent, health
from api.texts import text
from core.settings import Settings, get_settings
from crm.db import get_sessionmaker

STATIC_DIR = Path(__file__).with_name("static")
MAX_REQUEST_BYTES = 64 * 1024
# A successful action-server probe is trusted this long (api/hub/probe.py RecentlyAlive).
ACTIONS_ALIVE_TTL_SECONDS = 0.5

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def create_app(
    session_factory: sessionmaker[Session] | None = None,
    settings: Settings | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The app; tests pass their own database, settings or HTTP transport (the edge towards Rasa)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        factory = session_factory or get_sessionmaker()
        async with httpx.AsyncClient(transport=http_transport) as http:
            app.state.http = http
            app.state.session_factory = factory
            app.state.settings = settings
            app.state.hub = ConversationHub(
                factory,
                RasaClient(http, settings.rasa_url, settings.rasa_timeout_seconds),
                reply_wait_seconds=settings.rasa_timeout_seconds,
                actions_alive=RecentlyAlive(
                    lambda: is_reachable(http, settings.action_health_url, timeout_seconds=1.0),
                    ttl_seconds=ACTIONS_ALIVE_TTL_SECONDS,
                ),
            )
            yield

    app = FastAPI(title="Customer-service hub", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)

    @app.middleware("http")
    async def limit_request_size(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_REQUEST_BYTES):
            return JSONResponse(status_code=413, content=error_body("request_too_large", text("request_too_large")))
        return await call_next(request)

    app.include_router(widget.router)
    app.include_router(health.router)
    app.include_router(agent.console_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/chat")

    @app.get("/chat", include_in_schema=False)
    async def chat_page() -> Response:
        return Response((STATIC_DIR / "chat.html").read_bytes(), media_type="text/html; charset=utf-8")

    return app
