"""The API service: front door for every channel and the conversation hub."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker

from api.channels import rest, widget, widget_state
from api.channels.wechat.router import router as wechat_router
from api.channels.widget import WebChatDelivery
from api.channels.widget_origins import WidgetCors
from api.errors import ERROR_RESPONSES, install_error_handlers
from api.hub.broker import make_broker
from api.hub.conversation_hub import ConversationHub
from api.hub.probe import RecentlyAlive, is_reachable
from api.hub.rasa_client import RasaClient
from api.hub.rasa_replicas import RasaReplica, RasaReplicas
from api.routers import agent, demo, health, ops_analytics, ops_content, ops_pages, ops_review, ops_training
from api.security import MAX_REQUEST_BYTES, BodySizeLimit, SecurityHeaders, ServiceToken
from core.logging import install_pii_masking
from core.rate_limits import RateLimit, counter_storage
from core.settings import Settings, get_settings_or_exit
from crm.db import get_sessionmaker
from crm.policy import use_policy_edits
from crm.services.content import policy_edit_reader

STATIC_DIR = Path(__file__).with_name("static")
# A successful action-server probe is trusted this long (api/hub/probe.py RecentlyAlive).
ACTIONS_ALIVE_TTL_SECONDS = 0.5
# How long after the customer was told "busy" a slow Rasa answer is still delivered to them.
LATE_ANSWER_GRACE_SECONDS = 30.0

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def rasa_replicas(http: httpx.AsyncClient, settings: Settings, rasa_token: ServiceToken) -> RasaReplicas:
    """Each Rasa server of RASA_URL with the action server at the same position of ACTION_ENDPOINT_URL."""

    def probe(url: str) -> RecentlyAlive:
        check = lambda: is_reachable(http, url, timeout_seconds=1.0)  # noqa: E731
        return RecentlyAlive(check, ttl_seconds=ACTIONS_ALIVE_TTL_SECONDS)

    return RasaReplicas(
        [
            RasaReplica(
                name=rasa_url,
                # The customer waits settings.rasa_timeout (ConversationHub rasa_wait_seconds); the request goes on
                # longer so that a slow answer still reaches them through the outbound path.
                client=RasaClient(
                    http, rasa_url, settings.rasa_timeout + LATE_ANSWER_GRACE_SECONDS, headers=rasa_token.headers
                ),
                actions_alive=probe(health_url),
            )
            for rasa_url, health_url in zip(settings.rasa_urls, settings.action_health_urls, strict=True)
        ]
    )


def create_app(
    session_factory: sessionmaker[Session] | None = None,
    settings: Settings | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The app; tests pass their own database, settings or HTTP transport (the edge towards Rasa)."""
    settings = settings or get_settings_or_exit()
    install_pii_masking()
    rasa_token = ServiceToken(settings.rasa_jwt_secret)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        factory = session_factory or get_sessionmaker()
        async with httpx.AsyncClient(transport=http_transport) as http:
            app.state.http = http
            app.state.session_factory = factory
            app.state.settings = settings
            app.state.rasa_token = rasa_token
            hub = ConversationHub(
                factory,
                rasa_replicas(http, settings, rasa_token),
                reply_wait_seconds=settings.rasa_timeout,
                rasa_wait_seconds=settings.rasa_timeout,
                message_limit=RateLimit("messages", settings.message_rate_limit, counter_storage(settings.redis_url)),
                broker=make_broker(settings.redis_url, str(factory.kw["bind"].url)),
                idle_after=timedelta(minutes=settings.conversation_idle_minutes),
            )
            app.state.web_delivery = WebChatDelivery()
            hub.register_delivery(widget.CHANNEL, app.state.web_delivery, push=False)
            app.state.hub = hub
            use_policy_edits(policy_edit_reader(factory))  # ops' edits of escalation rules etc., live
            await hub.start()
            try:
                yield
            finally:
                await hub.stop()
                use_policy_edits(None)

    docs = bool(settings.api_docs)
    app = FastAPI(
        title="Customer-service hub",
        version="0.1.0",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_REQUEST_BYTES)
    app.add_middleware(WidgetCors, settings=settings)  # the widget's routes, for pages on other origins
    app.add_middleware(SecurityHeaders)  # outermost: also on the body limit's 413

    app.include_router(widget.router)
    app.include_router(widget_state.router)
    app.include_router(rest.router)
    app.include_router(wechat_router)
    app.include_router(health.router)
    app.include_router(agent.console_router)
    app.include_router(ops_analytics.router)
    app.include_router(ops_training.router)
    app.include_router(ops_training.page_router)
    app.include_router(ops_content.router)
    app.include_router(ops_review.router)
    app.include_router(ops_pages.pages_router)
    app.include_router(demo.router)
    app.mount("/widget", StaticFiles(directory=STATIC_DIR / "widget"), name="widget")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/chat")

    @app.get("/chat", include_in_schema=False)
    async def chat_page() -> Response:
        return Response((STATIC_DIR / "chat.html").read_bytes(), media_type="text/html; charset=utf-8")

    return app
