"""The web chat widget's channel: JSON over HTTP, one request per customer message."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import AfterValidator, BaseModel, Field, field_validator

from api.channels.identity import WEB_USER_ID_RE, sign_web_user_id, verify_identity_token
from api.deps import HubDep, SettingsDep
from api.errors import CustomerFacingError
from api.hub.conversation_hub import InboundMessage
from api.security import CleanStr, normalise_text
from api.texts import text
from crm.schemas import MessageOut

CHANNEL = "web"
ANONYMOUS_PREFIX = "anon:"
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

router = APIRouter(prefix="/api/widget", tags=["widget"])


class WidgetMessageIn(BaseModel):
    user_id: str = Field(pattern=WEB_USER_ID_RE.pattern, description="The browser's anonymous id")
    text: CleanStr = Field(default="", description="What the customer typed, or the title of the button pressed")
    payload: Annotated[str, Field(max_length=256, pattern=r"^/"), AfterValidator(normalise_text)] | None = Field(
        default=None, description="A button's payload"
    )
    client_message_id: CleanStr | None = Field(default=None, max_length=64, description="Retry key")
    identity_token: CleanStr | None = Field(default=None, max_length=256, description="Signed logged-in identity")


class WidgetMessageView(BaseModel):
    id: int
    direction: str
    sender: str
    text: str
    buttons: list[dict[str, str]] = Field(default_factory=list)
    image: str | None = None
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
            text=message.text,
            buttons=payload.get("buttons", []),
            image=payload.get("image"),
            created_at=message.created_at,
        )


class WidgetReplyOut(BaseModel):
    conversation_id: int | None
    message_id: int | None
    duplicate: bool = False
    replies: list[WidgetMessageView]


class WidgetHistoryOut(BaseModel):
    conversation_id: int | None
    messages: list[WidgetMessageView]


class DevIdentityOut(BaseModel):
    web_user_id: str
    identity_token: str


def channel_user_id_for(user_id: str, identity_token: str | None, secret: str) -> str:
    """A verified identity maps to the CRM's web_user_id; anyone else stays an anonymous visitor."""
    if identity_token:
        web_user_id = verify_identity_token(identity_token, secret)
        if web_user_id is None:
            raise CustomerFacingError(401, "invalid_identity", text("invalid_identity"))
        return web_user_id
    return ANONYMOUS_PREFIX + user_id


def clean_text(raw: str) -> str:
    return _CONTROL_CHARS.sub("", raw).strip()


@router.post("/messages", response_model=WidgetReplyOut)
async def post_message(body: WidgetMessageIn, hub: HubDep, settings: SettingsDep) -> WidgetReplyOut:
    """Takes one customer message and returns the replies (bot, system or none while an agent owns it)."""
    channel_user_id = channel_user_id_for(body.user_id, body.identity_token, settings.widget_secret)
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
        return WidgetReplyOut(conversation_id=None, message_id=None, replies=[prompt])

    result = await hub.handle(
        InboundMessage(
            channel=CHANNEL,
            channel_user_id=channel_user_id,
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
    )


@router.get("/history", response_model=WidgetHistoryOut)
async def get_history(
    hub: HubDep,
    settings: SettingsDep,
    user_id: Annotated[str, Query(pattern=WEB_USER_ID_RE.pattern)],
    identity_token: Annotated[str | None, Query(max_length=256)] = None,
) -> WidgetHistoryOut:
    """The open conversation's transcript, so a reloaded page shows what was said."""
    channel_user_id = channel_user_id_for(user_id, identity_token, settings.widget_secret)
    conversation, messages = await hub.transcript(channel=CHANNEL, channel_user_id=channel_user_id)
    return WidgetHistoryOut(
        conversation_id=conversation.id if conversation else None,
        messages=[WidgetMessageView.of(message) for message in messages],
    )


@router.get("/dev-identity", response_model=DevIdentityOut)
async def get_dev_identity(
    settings: SettingsDep, web_user_id: Annotated[str, Query(pattern=WEB_USER_ID_RE.pattern)]
) -> DevIdentityOut:
    """Development only: signs a web_user_id (e.g. demo-gold) the way the embedding site would."""
    if settings.app_env != "development":
        raise HTTPException(status_code=404, detail="Not found")
    return DevIdentityOut(web_user_id=web_user_id, identity_token=sign_web_user_id(web_user_id, settings.widget_secret))
