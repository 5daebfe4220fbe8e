"""Which host pages may embed the widget: CORS for the widget's HTTP routes, the Origin check of its websocket.

WIDGET_ALLOWED_ORIGINS is a comma-separated list of origins (`https://www.example.com`) or `*`. Blank means: in
development any http(s) page on localhost / 127.0.0.1 (any port), elsewhere only the API's own origin. The API's
own pages (/demo, /chat) are same-origin and always allowed.
"""

from __future__ import annotations

import re

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from core.settings import Settings

DEV_ORIGIN_REGEX = r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$"
# The routes a page on another origin calls: the widget's API and its script and stylesheet.
WIDGET_PATH_PREFIXES = ("/api/widget/", "/widget.js", "/widget/")


def allowed_origins(settings: Settings) -> list[str]:
    return [origin.strip().rstrip("/") for origin in settings.widget_allowed_origins.split(",") if origin.strip()]


def origin_regex(settings: Settings) -> str | None:
    if not allowed_origins(settings) and settings.app_env == "development":
        return DEV_ORIGIN_REGEX
    return None


def origin_allowed(origin: str | None, own_netloc: str, settings: Settings) -> bool:
    """Whether a page at `origin` may use the widget (no Origin header: not a browser page, allowed)."""
    if not origin:
        return True
    origin = origin.rstrip("/")
    if re.sub(r"^https?://", "", origin) == own_netloc:
        return True
    listed = allowed_origins(settings)
    if "*" in listed or origin in listed:
        return True
    regex = origin_regex(settings)
    return regex is not None and re.fullmatch(regex, origin) is not None


class WidgetCors:
    """CORS on the widget's routes only; every other route keeps the browser's same-origin rule."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        listed = allowed_origins(settings)
        self.cors = CORSMiddleware(
            app,
            allow_origins=listed,
            allow_origin_regex=origin_regex(settings),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Content-Type", "X-Identity-Token"],
            allow_credentials=False,  # the widget sends no cookies: identity travels in the body or a header
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope.get("path", "")).startswith(WIDGET_PATH_PREFIXES):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
