"""The REST channel: a JSON API for integrations (another chat front end, a CRM, an app's backend).

Each integration is configured in REST_INTEGRATIONS (name, API key, optional webhook). It authenticates with
`Authorization: Bearer <api_key>` and speaks for its own users: `user_id` is the integration's id of its user,
and the hub's channel user is `<integration>:<user_id>`, so integrations never see each other's conversations.

- `POST /api/rest/messages`: a customer message; answers with the bot's immediate replies (retry-safe with
  `client_message_id`).
- `GET /api/rest/conversations/{user_id}/messages?after_id=`: the history (the open conversation, or everything
  after a message id).
- `GET /api/rest/conversations/{user_id}/poll?after_id=&timeout=`: long poll, returns as soon as anything is said
  after `after_id` (bot, agent, system), or an empty list after `timeout` seconds.
- Webhook: an integration with a `webhook_url` gets every outbound message (bot replies included) POSTed to it,
  signed: `X-CS-Signature: sha256=<hex HMAC-SHA256 of "<X-CS-Timestamp>.<body>">` with its webhook secret. The
  hub's push delivery (api/hub/delivery.py) claims each message in the database, so exactly one API process
  sends it; a failed POST (no 2xx) is retried with back-off and ends as `failed` after the last attempt.
  `X-CS-Delivery` (the message id) lets the receiver drop a repeat of a delivery it took but did not acknowledge.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Path, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator, BaseModel, Field

from api.channels.identity import WEB_USER_ID_RE
from api.channels.widget import WidgetMessageView, clean_text
from api.deps import HubDep, SettingsDep
from api.errors import CustomerFacingError
from api.hub.broker import topics
from api.hub.conversation_hub import ConversationHub, InboundMessage
from api.security import CleanStr, normalise_text
from api.texts import text
from core.settings import RestIntegration
from crm.schemas import ConversationOut, MessageOut

logger = logging.getLogger(__name__)

CHANNEL = "rest"
WEBHOOK_TIMEOUT_SECONDS = 5.0
MAX_POLL_SECONDS = 30.0
# A long poll re-reads the transcript at least this often, even without an event (an event lost on the broker).
POLL_RECHECK_SECONDS = 2.0
USER_ID = Annotated[str, Path(pattern=WEB_USER_ID_RE.pattern, description="The integration's id of its user")]

_bearer = HTTPBearer(auto_error=False, description="The integration's API key (REST_INTEGRATIONS)")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Runs inside create_app()'s lifespan (the hub is on app.state): the webhook delivery and its HTTP client."""
    async with httpx.AsyncClient(timeout=WEBHOOK_TIMEOUT_SECONDS) as http:
        app.state.rest_delivery = WebhookDelivery(http, app.state.settings.rest_integrations or [])
        app.state.hub.register_delivery(CHANNEL, app.state.rest_delivery, push=True)
        yield


router = APIRouter(prefix="/api/rest", tags=["rest"], lifespan=lifespan)


# --- authentication ----------------------------------------------------------------------------------------------


def integration_for(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> RestIntegration:
    """The integration whose API key was shown (compared in constant time); 401 otherwise."""
    shown = credentials.credentials.encode() if credentials else b""
    found = None
    for integration in settings.rest_integrations or []:
        if hmac.compare_digest(shown, integration.api_key.encode()) and shown:
            found = integration
    if found is None:
        raise CustomerFacingError(401, "invalid_api_key", text("invalid_api_key"))
    return found


IntegrationDep = Annotated[RestIntegration, Depends(integration_for)]


def channel_user_id(integration: RestIntegration, user_id: str) -> str:
    return f"{integration.name}:{user_id}"


# --- models ------------------------------------------------------------------------------------------------------


class RestMessageIn(BaseModel):
    user_id: str = Field(pattern=WEB_USER_ID_RE.pattern, description="The integration's id of its user")
    text: CleanStr = Field(default="", description="What the customer wrote (or the title of the button pressed)")
    payload: Annotated[str, Field(max_length=256, pattern=r"^/"), AfterValidator(normalise_text)] | None = Field(
        default=None, description="A button's payload, e.g. `/request_human`"
    )
    client_message_id: CleanStr | None = Field(
        default=None, max_length=64, description="Retry key: a repeat returns the first attempt's answer"
    )


class RestReplyOut(BaseModel):
    conversation_id: int | None
    message_id: int | None
    duplicate: bool = False
    replies: list[WidgetMessageView] = Field(
        description="The bot's immediate replies (none while the queue or an agent has the conversation). "
        "With a webhook they are also POSTed to it: de-duplicate by `id`."
    )


class RestMessagesOut(BaseModel):
    conversation_id: int | None = Field(description="The user's open conversation, if any")
    messages: list[WidgetMessageView]


class WebhookBody(BaseModel):
    """What a webhook receives, once per outbound message."""

    integration: str
    user_id: str
    conversation_id: int
    message: WidgetMessageView


# --- routes ------------------------------------------------------------------------------------------------------


@router.post("/messages", response_model=RestReplyOut)
async def post_message(
    body: RestMessageIn, integration: IntegrationDep, hub: HubDep, settings: SettingsDep
) -> RestReplyOut:
    """Takes one customer message for the integration's user and returns the immediate replies."""
    message_text = clean_text(body.text) or (body.payload or "")
    if not message_text:
        raise CustomerFacingError(422, "empty_message", text("empty_message"))
    if len(message_text) > settings.max_message_chars:
        raise CustomerFacingError(
            413,
            "message_too_long",
            text("message_too_long", length=len(message_text), limit=settings.max_message_chars),
        )
    result = await hub.handle(
        InboundMessage(
            channel=CHANNEL,
            channel_user_id=channel_user_id(integration, body.user_id),
            text=message_text,
            client_message_id=body.client_message_id,
            rasa_payload=body.payload,
            # With a webhook every reply goes out through it (exactly once); without one, the response is the way.
            replies_in_response=integration.webhook_url is None,
        )
    )
    return RestReplyOut(
        conversation_id=result.conversation.id,
        message_id=result.message.id,
        duplicate=result.duplicate,
        replies=[WidgetMessageView.of(reply) for reply in result.replies],
    )


@router.get("/conversations/{user_id}/messages", response_model=RestMessagesOut)
async def get_messages(
    user_id: USER_ID,
    integration: IntegrationDep,
    hub: HubDep,
    after_id: Annotated[int, Query(ge=0, description="0: the open conversation; N: every message after id N")] = 0,
) -> RestMessagesOut:
    """The user's conversation history (both directions)."""
    conversation, messages = await hub.catch_up(
        channel=CHANNEL, channel_user_id=channel_user_id(integration, user_id), after_id=after_id
    )
    return RestMessagesOut(
        conversation_id=conversation.id if conversation else None,
        messages=[WidgetMessageView.of(message) for message in messages],
    )


@router.get("/conversations/{user_id}/poll", response_model=RestMessagesOut)
async def poll_messages(
    user_id: USER_ID,
    integration: IntegrationDep,
    hub: HubDep,
    after_id: Annotated[int, Query(ge=0, description="The highest message id the integration has")] = 0,
    timeout: Annotated[float, Query(gt=0, le=MAX_POLL_SECONDS, description="Seconds to wait for a message")] = 25.0,
) -> RestMessagesOut:
    """Long poll: what was said to the user after `after_id`, as soon as there is something (or [] at timeout)."""
    conversation, messages = await wait_for_outbound(
        hub, channel_user_id(integration, user_id), after_id=after_id, timeout=timeout
    )
    return RestMessagesOut(
        conversation_id=conversation.id if conversation else None,
        messages=[WidgetMessageView.of(message) for message in messages],
    )


async def wait_for_outbound(
    hub: ConversationHub, user: str, *, after_id: int, timeout: float
) -> tuple[ConversationOut | None, list[MessageOut]]:
    """Outbound messages of `user` after `after_id`, waiting up to `timeout` s for the first one (woken by the
    broker's outbound events, re-reading the transcript at least every POLL_RECHECK_SECONDS)."""
    deadline = time.monotonic() + timeout
    async with hub.broker.subscribe(topics.OUTBOUND) as events:
        while True:
            conversation, messages = await _outbound_after(hub, user, after_id)
            remaining = deadline - time.monotonic()
            if messages or remaining <= 0:
                return conversation, messages
            wait_until = time.monotonic() + min(remaining, POLL_RECHECK_SECONDS)
            while (left := wait_until - time.monotonic()) > 0:
                try:
                    event = await events.get(timeout=left)
                except asyncio.TimeoutError:
                    break
                if event.get("conversation", {}).get("channel_user_id") == user:
                    break


async def _outbound_after(
    hub: ConversationHub, user: str, after_id: int
) -> tuple[ConversationOut | None, list[MessageOut]]:
    conversation, messages = await hub.catch_up(channel=CHANNEL, channel_user_id=user, after_id=after_id)
    return conversation, [message for message in messages if message.direction == "out" and message.id > after_id]


# --- webhook delivery ----------------------------------------------------------------------------------------------


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>"): what a receiver recomputes and compares."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookDeliveryError(RuntimeError):
    """The receiver did not acknowledge (no 2xx): the hub retries with back-off."""


class WebhookDelivery:
    """The REST channel's push delivery: POSTs each outbound message to its integration's webhook."""

    def __init__(self, http: httpx.AsyncClient, integrations: list[RestIntegration]) -> None:
        self._http = http
        self._integrations = {integration.name: integration for integration in integrations}

    async def deliver(self, conversation: ConversationOut, message: MessageOut) -> None:
        name, _, user_id = conversation.channel_user_id.partition(":")
        integration = self._integrations.get(name)
        if integration is None or integration.webhook_url is None:
            return  # long poll or history only: nothing to push
        body = WebhookBody(
            integration=name, user_id=user_id, conversation_id=conversation.id, message=WidgetMessageView.of(message)
        )
        raw = json.dumps(body.model_dump(mode="json"), ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        secret = integration.webhook_secret or integration.api_key
        headers: dict[str, Any] = {
            "Content-Type": "application/json; charset=utf-8",
            "X-CS-Timestamp": timestamp,
            "X-CS-Signature": webhook_signature(secret, timestamp, raw),
            "X-CS-Delivery": str(message.id),
        }
        try:
            response = await self._http.post(integration.webhook_url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            raise WebhookDeliveryError(f"{integration.webhook_url}: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise WebhookDeliveryError(f"{integration.webhook_url} answered {response.status_code}")
