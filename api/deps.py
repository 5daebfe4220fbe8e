"""Typed FastAPI dependencies: what create_app() put on app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.hub.conversation_hub import ConversationHub
from core.settings import Settings


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_hub(request: Request) -> ConversationHub:
    return request.app.state.hub


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
HubDep = Annotated[ConversationHub, Depends(get_hub)]
