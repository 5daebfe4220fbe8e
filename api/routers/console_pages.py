"""The agent console's web pages (Chinese UI, plain HTML/CSS/JS modules in api/static/console/).

`/console/login` (form → token in sessionStorage → the page for the role), `/console` (agents: live queue,
my conversations, the conversation view) and `/console/supervisor` (every queue, each agent's load, today's
SLA breaches). The pages are static; everything they show comes from the agent API with the token, and the
live feed is `GET /api/agent/ws` (api/routers/console_live.py).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Response

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "static" / "console"

router = APIRouter(prefix="/console", include_in_schema=False)


def _page(name: str) -> Response:
    return Response((CONSOLE_DIR / name).read_bytes(), media_type="text/html; charset=utf-8")


@router.get("/login")
async def login_page() -> Response:
    """The staff login form."""
    return _page("login.html")


@router.get("")
async def agent_page() -> Response:
    """The agent's console: queue, my conversations, conversation view."""
    return _page("agent.html")


@router.get("/supervisor")
async def supervisor_page() -> Response:
    """The supervisor's overview."""
    return _page("supervisor.html")
