"""Rasa's REST channel, answering only the hub: every message needs the hub's JWT.

Rasa's `--jwt-secret` protects its HTTP API (trackers, events, model) but not the channel webhooks, so
without this any local process could post as any conversation with forged metadata (customer id, tier).
credentials.yml names this class instead of `rest:`; the URL stays /webhooks/rest/webhook.
The JWT is signed with RASA_JWT_SECRET (HS256), sent as `Authorization: Bearer <jwt>`: the same token the
HTTP API accepts, minted by the hub (api/security.py ServiceToken).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

JWT_SECRET_ENV = "RASA_JWT_SECRET"
JWT_ALGORITHM = "HS256"


def verify_service_jwt(authorization: str | None, secret: str) -> bool:
    """True for `Bearer <jwt>` signed with `secret`, unexpired, with an admin role (what the hub mints)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    try:
        claims = jwt.decode(token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp"]})
    except jwt.PyJWTError:
        return False
    return isinstance(claims.get("user"), dict) and claims["user"].get("role") == "admin"


class AuthenticatedRestInput(RestInput):
    """RestInput whose webhook refuses (401) any call without the hub's JWT."""

    def __init__(self, jwt_secret: str | None = None) -> None:
        self._secret = jwt_secret or os.environ.get(JWT_SECRET_ENV, "")
        if not self._secret:
            raise ValueError(f"{JWT_SECRET_ENV} must be set for the authenticated REST channel")

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> AuthenticatedRestInput:
        return cls((credentials or {}).get("jwt_secret"))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = super().blueprint(on_new_message)
        secret = self._secret

        @webhook.middleware("request")
        async def _authenticate(request: Request) -> HTTPResponse | None:
            if request.method == "POST" and not verify_service_jwt(request.headers.get("authorization"), secret):
                logger.warning("Refused an unauthenticated REST channel call from %s", request.ip)
                return response.json({"error": "unauthorized"}, status=401)
            return None

        return webhook
