"""The API's edges: request size on streamed bodies, security headers, text normalisation, service tokens."""

from __future__ import annotations

import json
import time
import unicodedata
from typing import Annotated, Any

import jwt
from pydantic import AfterValidator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body
from api.texts import text

MAX_REQUEST_BYTES = 64 * 1024

# The chat page loads only its own script and stylesheet; bot images may come from https URLs.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Swagger UI (/docs, development or API_DOCS=1) needs its CDN bundle and an inline bootstrap script.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


def normalise_text(value: str) -> str:
    """Lone UTF-16 surrogates (half an emoji, which browsers do send) become U+FFFD; then NFC.

    A surrogate cannot be encoded as UTF-8, so it would fail when the message is written; replacing it
    keeps the rest of the customer's message.
    """
    if any("\ud800" <= char <= "\udfff" for char in value):
        value = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return unicodedata.normalize("NFC", value)


# A str field that is always valid Unicode text (use it for every text a client sends).
CleanStr = Annotated[str, AfterValidator(normalise_text)]


class BodySizeLimit:
    """ASGI middleware: 413 once a request body passes `max_bytes`, counted as it streams.

    A Content-Length above the limit is refused before reading; a chunked body (no Content-Length) is
    counted chunk by chunk and refused as soon as it passes the limit, so it is never read in full.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _send_too_large(send)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLargeError()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLargeError:
            if not response_started:
                await _send_too_large(send)


class _BodyTooLargeError(StarletteHTTPException):
    """Raised inside the app's body read: FastAPI passes HTTP exceptions through to the error handlers."""

    def __init__(self) -> None:
        # A dict detail is passed through as the error body's detail by api/errors.py.
        detail: Any = error_body("request_too_large", text("request_too_large"))["detail"]
        super().__init__(413, detail)


async def _send_too_large(send: Send) -> None:
    body = json.dumps(error_body("request_too_large", text("request_too_large")), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """ASGI middleware: CSP, nosniff, frame and referrer headers on every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CONTENT_SECURITY_POLICY if path.startswith(DOCS_PATHS) else CONTENT_SECURITY_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(header for header in SECURITY_HEADERS if header[0] not in present)
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", csp.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ServiceToken:
    """The JWT the hub shows Rasa (REST channel and HTTP API): HS256 with RASA_JWT_SECRET, renewed before expiry."""

    def __init__(self, secret: str, lifetime_seconds: float = 3600.0) -> None:
        self._secret = secret
        self._lifetime = lifetime_seconds
        self._token = ""
        self._renew_at = 0.0

    def token(self) -> str:
        now = time.time()
        if now >= self._renew_at:
            claims = {
                "user": {"username": "hub", "role": "admin"},
                "username": "hub",
                "iat": int(now),
                "exp": int(now + self._lifetime),
            }
            self._token = jwt.encode(claims, self._secret, algorithm="HS256")
            self._renew_at = now + self._lifetime / 2
        return self._token

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}
