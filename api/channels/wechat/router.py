"""`GET/POST /wechat`: the official account's server URL (服务器地址)."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated

import httpx
from fastapi import APIRouter, FastAPI, Query, Request, Response

from api.channels.wechat.binding import LoggingSmsSender
from api.channels.wechat.channel import WeChatChannel
from api.channels.wechat.protocol import CallbackQuery, ForgedRequestError, MalformedRequestError
from crm.services import wechat_state

logger = logging.getLogger(__name__)

# A WeChat text is at most 2048 characters; encrypted and base64-encoded it stays well under this.
MAX_BODY_BYTES = 32 * 1024
WECHAT_API_TIMEOUT_SECONDS = 5.0


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs inside create_app()'s lifespan, so the hub, settings and database are already on app.state.
    Tests may put their own SMS sender on `app.state.wechat_sms_sender` before the app starts."""
    async with httpx.AsyncClient(timeout=WECHAT_API_TIMEOUT_SECONDS) as http:
        channel = WeChatChannel(
            hub=app.state.hub,
            session_factory=app.state.session_factory,
            settings=app.state.settings,
            http=http,
            sms=getattr(app.state, "wechat_sms_sender", None) or LoggingSmsSender(),
        )
        app.state.wechat = channel
        # The event-driven hub (branch `hub`) delivers agent and system messages through each channel's Delivery.
        register_delivery = getattr(app.state.hub, "register_delivery", None)
        if register_delivery is not None:
            register_delivery("wechat", channel.delivery)
        # Old reply claims are pruned by the hub's sweeper (WECHAT_INBOUND_RETENTION_DAYS).
        retention = timedelta(days=app.state.settings.wechat_inbound_retention_days)
        app.state.hub.add_housekeeping(functools.partial(wechat_state.prune_inbound, older_than=retention))
        yield
        await channel.drain()


router = APIRouter(tags=["wechat"], lifespan=lifespan)

# WeChat's protocol answers in plain text (or XML), never in the API's JSON error shape.
_PLAIN = {"text/plain": {"schema": {"type": "string"}}}
WECHAT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "echostr, `success` or a passive reply", "content": {**_PLAIN, "application/xml": {}}},
    400: {"description": "Unreadable XML", "content": _PLAIN},
    403: {"description": "Signature (or appid) not valid: nothing stored", "content": _PLAIN},
    413: {"description": "Message larger than WeChat sends", "content": _PLAIN},
}

Signature = Annotated[str | None, Query(max_length=64)]
Stamp = Annotated[str, Query(max_length=32)]


def _channel(request: Request) -> WeChatChannel:
    return request.app.state.wechat


@router.get("/wechat", response_class=Response, responses=WECHAT_RESPONSES)
async def verify_url(
    request: Request,
    signature: Annotated[str, Query(max_length=64)],
    timestamp: Stamp,
    nonce: Stamp,
    echostr: Annotated[str, Query(max_length=512)],
) -> Response:
    """URL verification when the server URL is saved in the official-account console: echo `echostr`."""
    try:
        _channel(request).protocol.verify_url(signature=signature, timestamp=timestamp, nonce=nonce)
    except ForgedRequestError:
        return Response("invalid signature", status_code=403, media_type="text/plain")
    return Response(echostr, media_type="text/plain")


@router.post("/wechat", response_class=Response, responses=WECHAT_RESPONSES)
async def receive(
    request: Request,
    timestamp: Stamp,
    nonce: Stamp,
    signature: Signature = None,
    msg_signature: Signature = None,
    encrypt_type: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    """A message or event from a user; answered with a passive reply (XML) or `success`."""
    body = await _read_capped(request)
    if body is None:
        return Response("message too large", status_code=413, media_type="text/plain")
    channel = _channel(request)
    query = CallbackQuery(
        signature=signature, timestamp=timestamp, nonce=nonce, encrypt_type=encrypt_type, msg_signature=msg_signature
    )
    try:
        incoming = channel.protocol.open(query, body)
    except ForgedRequestError as exc:
        logger.warning("Refused a WeChat callback: %s", exc)
        return Response("invalid signature", status_code=403, media_type="text/plain")
    except MalformedRequestError as exc:
        logger.warning("Unreadable WeChat callback: %s", exc)
        return Response("malformed message", status_code=400, media_type="text/plain")
    answer = await channel.answer(query, incoming)
    media_type = "text/plain" if answer == "success" else "application/xml"
    return Response(answer, media_type=media_type)


async def _read_capped(request: Request) -> bytes | None:
    """The body, or None past MAX_BODY_BYTES (also when it arrives chunked, without a Content-Length)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
