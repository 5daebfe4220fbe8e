"""The web chat widget's channel: customer messages by HTTP POST, everything said to the customer by websocket.

POST /api/widget/messages stores a message and returns the bot's immediate replies. GET /api/widget/ws is a
websocket per browser: the first frame authenticates (`{"type": "hello", "user_id", "identity_token", "last_id"}`),
the server answers with every message after `last_id` from the transcript (catch-up), then pushes each outbound
message (bot, agent, system) as it is published by any API process. Frames carry message ids; the page drops
ids it has already shown, so a reply that came in the POST response and on the socket is shown once.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, WebSocket, WebSocketDisconnect
from pydantic import AfterValidator, BaseModel, Field, ValidationError, field_validator
from starlette.websockets import WebSocketState

from api.channels.identity import WEB_USER_ID_RE, IdentityProblem, check_identity_token, sign_web_user_id
from api.channels.widget_origins import origin_allowed
from api.deps import HubDep, SettingsDep
from api.errors import CustomerFacingError
from api.hub.conversation_hub import ConversationHub, InboundMessage
from api.security import CleanStr, normalise_text
from api.texts import text
from core.settings import Settings
from crm.schemas import ConversationOut, MessageOut

logger = logging.getLogger(__name__)

CHANNEL = "web"
ANONYMOUS_PREFIX = "anon:"
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Websocket close codes (4000-4999 are the application's): the page stops reconnecting on these.
WS_INVALID_HELLO = 4400
WS_INVALID_IDENTITY = 4401  # no longer sent (an invalid identity is anonymous); kept for pages that know it
WS_FORBIDDEN_ORIGIN = 4403
HELLO_TIMEOUT_SECONDS = 10.0

router = APIRouter(prefix="/api/widget", tags=["widget"])


class WidgetMessageIn(BaseModel):
    user_id: str = Field(pattern=WEB_USER_ID_RE.pattern, description="The browser's anonymous id")
    text: CleanStr = Field(default="", description="What the customer typed, or the title of the button pressed")
    payload: Annotated[str, Field(max_length=256, pattern=r"^/"), AfterValidator(normalise_text)] | None = Field(
        default=None, description="A button's payload"
    )
    client_message_id: CleanStr | None = Field(default=None, max_length=64, description="Retry key")
    identity_token: CleanStr | None = Field(
        default=None,
        max_length=1024,
        description="The embedding site's signed identity (HS256 JWT with `sub` and `exp`); without a valid one the "
        "visitor is anonymous",
    )


class WidgetMessageView(BaseModel):
    id: int
    direction: str
    sender: str
    # The serving agent's name ("李娜") on agent messages.
    agent_name: str | None = None
    text: str
    buttons: list[dict[str, str]] = Field(default_factory=list)
    image: str | None = None
    # The page's own retry key on the customer's messages: matches a pending message to its stored copy.
    client_message_id: str | None = None
    created_at: datetime

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # The CRM stores UTC; SQLite hands it back naive. RFC 3339 (the schema's date-time) needs the offset.
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

    @classmethod
    def of(cls, message: MessageOut) -> WidgetMessageView:
        payload: dict[str, Any] = message.payload or {}
        return cls(
            id=message.id,
            direction=message.direction,
            sender=message.sender,
            agent_name=message.agent_name,
            text=message.text,
            buttons=payload.get("buttons", []),
            image=payload.get("image"),
            client_message_id=message.client_message_id,
            created_at=message.created_at,
        )


class IdentityView(BaseModel):
    """Who the hub took the visitor for: `customer` only with a valid identity token."""

    identity: str = Field(default="anonymous", pattern="^(anonymous|customer)$")
    # Why a token that was sent is not used: "expired" or "invalid" (the visitor is anonymous).
    identity_problem: IdentityProblem | None = None


class WidgetReplyOut(IdentityView):
    conversation_id: int | None
    message_id: int | None
    duplicate: bool = False
    replies: list[WidgetMessageView]


class WidgetHistoryOut(IdentityView):
    conversation_id: int | None
    messages: list[WidgetMessageView]


class WidgetHello(BaseModel):
    """The websocket's first frame from the page."""

    type: str = Field(pattern="^hello$")
    user_id: str = Field(pattern=WEB_USER_ID_RE.pattern)
    identity_token: str | None = Field(default=None, max_length=1024)
    last_id: int = Field(default=0, ge=0, description="The highest message id the page has shown")


class DevIdentityOut(BaseModel):
    web_user_id: str
    identity_token: str


class Visitor(IdentityView):
    """The channel user a request speaks for."""

    channel_user_id: str
    anonymous_id: str


def visitor_for(user_id: str, identity_token: str | None, settings: Settings) -> Visitor:
    """A valid identity token maps to the CRM's web_user_id; anyone else (no token, or an unsigned, tampered or
    expired one) is the anonymous visitor of this browser, never the customer the token claims."""
    anonymous_id = ANONYMOUS_PREFIX + user_id
    if not identity_token:
        return Visitor(channel_user_id=anonymous_id, anonymous_id=anonymous_id)
    check = check_identity_token(
        identity_token, settings.widget_secret, max_lifetime_seconds=settings.widget_token_max_lifetime_seconds
    )
    if check.web_user_id is None:
        logger.info("identity token refused (%s); the visitor is anonymous", check.problem)
        return Visitor(
            channel_user_id=anonymous_id,
            anonymous_id=anonymous_id,
            identity_problem=check.problem,
        )
    return Visitor(channel_user_id=check.web_user_id, anonymous_id=anonymous_id, identity="customer")


async def identify(hub: ConversationHub, user_id: str, identity_token: str | None, settings: Settings) -> Visitor:
    """The visitor; one who just logged in takes their anonymous conversation along."""
    visitor = visitor_for(user_id, identity_token, settings)
    if visitor.identity == "customer":
        await hub.adopt_visitor(
            channel=CHANNEL, from_channel_user_id=visitor.anonymous_id, to_channel_user_id=visitor.channel_user_id
        )
    return visitor


def _identity(visitor: Visitor) -> dict[str, Any]:
    return {"identity": visitor.identity, "identity_problem": visitor.identity_problem}


def clean_text(raw: str) -> str:
    return _CONTROL_CHARS.sub("", raw).strip()


@router.post("/messages", response_model=WidgetReplyOut)
async def post_message(body: WidgetMessageIn, hub: HubDep, settings: SettingsDep) -> WidgetReplyOut:
    """Takes one customer message and returns the replies (bot, system or none while an agent owns it)."""
    visitor = await identify(hub, body.user_id, body.identity_token, settings)
    message_text = clean_text(body.text) or (body.payload or "")
    if len(message_text) > settings.max_message_chars:
        raise CustomerFacingError(
            413,
            "message_too_long",
            text("message_too_long", length=len(message_text), limit=settings.max_message_chars),
        )
    if not message_text:
        prompt = WidgetMessageView(
            id=0, direction="out", sender="system", text=text("empty_message"), created_at=datetime.now(timezone.utc)
        )
        return WidgetReplyOut(conversation_id=None, message_id=None, replies=[prompt], **_identity(visitor))

    result = await hub.handle(
        InboundMessage(
            channel=CHANNEL,
            channel_user_id=visitor.channel_user_id,
            text=message_text,
            client_message_id=body.client_message_id,
            rasa_payload=body.payload,
        )
    )
    return WidgetReplyOut(
        conversation_id=result.conversation.id,
        message_id=result.message.id,
        duplicate=result.duplicate,
        replies=[WidgetMessageView.of(reply) for reply in result.replies],
        **_identity(visitor),
    )


@router.get("/history", response_model=WidgetHistoryOut)
async def get_history(
    hub: HubDep,
    settings: SettingsDep,
    user_id: Annotated[str, Query(pattern=WEB_USER_ID_RE.pattern)],
    x_identity_token: Annotated[
        str | None, Header(max_length=1024, description="The signed identity (never in the URL: URLs are logged)")
    ] = None,
) -> WidgetHistoryOut:
    """The open conversation's transcript, so a reloaded page shows what was said."""
    visitor = await identify(hub, user_id, x_identity_token, settings)
    conversation, messages = await hub.transcript(channel=CHANNEL, channel_user_id=visitor.channel_user_id)
    return WidgetHistoryOut(
        conversation_id=conversation.id if conversation else None,
        messages=[WidgetMessageView.of(message) for message in messages],
        **_identity(visitor),
    )


@router.get("/dev-identity", response_model=DevIdentityOut)
async def get_dev_identity(
    settings: SettingsDep, web_user_id: Annotated[str, Query(pattern=WEB_USER_ID_RE.pattern)]
) -> DevIdentityOut:
    """Development only: signs a web_user_id (e.g. demo-gold) the way the embedding site would."""
    if settings.app_env != "development":
        raise HTTPException(status_code=404, detail="Not found")
    return DevIdentityOut(web_user_id=web_user_id, identity_token=sign_web_user_id(web_user_id, settings.widget_secret))


class _Connection:
    """One page's websocket: sends are serialised, and each message id goes out at most once."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self._lock = asyncio.Lock()
        self._sent: set[int] = set()

    async def start(
        self,
        catch_up: Callable[[], Awaitable[tuple[ConversationOut | None, list[MessageOut]]]],
        identity: dict[str, Any] | None = None,
    ) -> None:
        """Sends the hello frame and the catch-up before any pushed message (pushes wait for the lock)."""
        async with self._lock:
            conversation, missed = await catch_up()
            hello = {"type": "hello", "conversation_id": conversation.id if conversation else None, **(identity or {})}
            await self.websocket.send_text(json.dumps(hello))
            await self._send(missed)

    async def catch_up(self, read: Callable[[], Awaitable[tuple[ConversationOut | None, list[MessageOut]]]]) -> None:
        _, missed = await read()
        await self.send_messages(missed)

    async def send_messages(self, messages: list[MessageOut]) -> None:
        async with self._lock:
            await self._send(messages)

    async def _send(self, messages: list[MessageOut]) -> None:
        for message in messages:
            if message.id in self._sent or self.websocket.application_state != WebSocketState.CONNECTED:
                continue
            self._sent.add(message.id)
            frame = {"type": "message", "message": WidgetMessageView.of(message).model_dump(mode="json")}
            await self.websocket.send_text(json.dumps(frame, ensure_ascii=False))


class WebChatDelivery:
    """Connection-bound delivery: this process's open websockets, by channel user."""

    def __init__(self) -> None:
        self._connections: dict[str, set[_Connection]] = defaultdict(set)

    def add(self, channel_user_id: str, connection: _Connection) -> None:
        self._connections[channel_user_id].add(connection)

    def remove(self, channel_user_id: str, connection: _Connection) -> None:
        held = self._connections.get(channel_user_id)
        if held is not None:
            held.discard(connection)
            if not held:
                del self._connections[channel_user_id]

    async def deliver(self, conversation: ConversationOut, message: MessageOut) -> None:
        for connection in list(self._connections.get(conversation.channel_user_id, ())):
            try:
                await connection.send_messages([message])
            except Exception:  # a socket that died mid-send; its endpoint cleans up
                logger.info("websocket send failed for %s", conversation.channel_user_id, exc_info=True)


@router.websocket("/ws")
async def chat_socket(websocket: WebSocket) -> None:
    """The page's live feed: catch-up from the transcript after `last_id`, then every outbound message."""
    hub: ConversationHub = websocket.app.state.hub
    settings = websocket.app.state.settings
    await websocket.accept()
    if not origin_allowed(websocket.headers.get("origin"), websocket.url.netloc, settings):
        # Browsers send the page's origin; a page not allowed to embed the widget gets no live feed.
        await _refuse(websocket, WS_FORBIDDEN_ORIGIN, "forbidden_origin")
        return
    try:
        raw = await asyncio.wait_for(websocket.receive_text(), HELLO_TIMEOUT_SECONDS)
        hello = WidgetHello.model_validate_json(raw)
    except (asyncio.TimeoutError, ValidationError, WebSocketDisconnect) as exc:
        if not isinstance(exc, WebSocketDisconnect):
            await _refuse(websocket, WS_INVALID_HELLO, "invalid_request")
        return
    visitor = await identify(hub, hello.user_id, hello.identity_token, settings)
    channel_user_id = visitor.channel_user_id

    delivery: WebChatDelivery = websocket.app.state.web_delivery
    connection = _Connection(websocket)
    # Registered before the catch-up read: a message published meanwhile is either in the read or pushed.
    delivery.add(channel_user_id, connection)
    try:
        await connection.start(
            lambda: hub.catch_up(channel=CHANNEL, channel_user_id=channel_user_id, after_id=hello.last_id),
            _identity(visitor) if hello.identity_token else None,
        )
        while True:
            # The page pings with the highest id it shows; anything said since that the socket did not carry (an
            # event lost while Redis reconnected) is sent now. Other frames are ignored.
            ping = _parse_ping(await websocket.receive_text())
            if ping is not None:
                await connection.catch_up(
                    functools.partial(hub.catch_up, channel=CHANNEL, channel_user_id=channel_user_id, after_id=ping)
                )
    except WebSocketDisconnect:
        pass
    finally:
        delivery.remove(channel_user_id, connection)


def _parse_ping(raw: str) -> int | None:
    """The last-seen id of a `{"type": "ping", "last_id": N}` frame, or None."""
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(frame, dict) or frame.get("type") != "ping":
        return None
    last_id = frame.get("last_id")
    return last_id if isinstance(last_id, int) and not isinstance(last_id, bool) and last_id > 0 else None


async def _refuse(websocket: WebSocket, close_code: int, text_key: str) -> None:
    frame = {"type": "error", "code": text_key, "message": text(text_key)}
    await websocket.send_text(json.dumps(frame, ensure_ascii=False))
    await websocket.close(close_code)
