"""The agent console's live feed: `GET /api/agent/ws`, a websocket per console page.

The token never travels in the URL: the first frame authenticates, `{"type": "auth", "token": "<JWT>"}`
(agents and supervisors). The server answers `{"type": "ready", "username", "role"}` once it listens on the
broker's `console` topic (queue and handoff changes, messages in conversations the queue or an agent holds),
so the page's first REST read after `ready` misses nothing. `{"type": "watch", "conversation_id": N}` (null
stops) adds the `conversation:<N>` topic, confirmed by `{"type": "watching", "conversation_id"}`.
Every broker event becomes `{"type": "changed", "topic": "console" | "conversation", "event",
"conversation_id", "message_ids"}`: like the customer's socket, events only say "look now"; the page reads the
queue or the transcript through the REST API, so an event lost while Redis reconnected loses nothing (the page
also re-reads every 30 s). Broker events reach every API process, so the console works with several of them.
`{"type": "ping"}` (every 25 s) is answered `{"type": "pong"}` after the login is checked again: an expired
token or a disabled account ends the feed (error frame, close code 4401) as it ends the REST calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from api.auth import StaffAuthError, staff_for_token
from api.hub.broker import Broker, Event, topics

logger = logging.getLogger(__name__)
router = APIRouter()

WS_INVALID_AUTH = 4401
WS_FORBIDDEN = 4403
WS_FEED_FAILED = 1011
AUTH_TIMEOUT_SECONDS = 10.0
CONSOLE_ROLES = ("agent", "supervisor")


class _StaffSocket:
    """One console page: serialised sends, the console feed and at most one watched conversation."""

    def __init__(self, websocket: WebSocket, broker: Broker) -> None:
        self.websocket = websocket
        self.broker = broker
        self._lock = asyncio.Lock()
        self._watch: asyncio.Task[None] | None = None

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._lock:
            if self.websocket.application_state == WebSocketState.CONNECTED:
                await self.websocket.send_text(json.dumps(frame, ensure_ascii=False))

    async def forward(self, topic: str, kind: str, subscribed: asyncio.Event) -> None:
        try:
            async with self.broker.subscribe(topic) as subscription:
                subscribed.set()
                async for event in subscription:
                    await self.send(_changed(kind, event))
        except asyncio.CancelledError:
            raise
        except Exception:
            # Without its feed the page would silently go stale: close, and the page reconnects and re-reads.
            logger.exception("console feed on %s failed", topic)
            if self.websocket.application_state == WebSocketState.CONNECTED:
                await self.websocket.close(WS_FEED_FAILED)

    async def watch(self, conversation_id: int | None) -> None:
        await self.unwatch()
        if conversation_id is not None:
            subscribed = asyncio.Event()
            self._watch = asyncio.create_task(
                self.forward(topics.conversation(conversation_id), "conversation", subscribed)
            )
            await asyncio.wait_for(subscribed.wait(), timeout=10.0)
        await self.send({"type": "watching", "conversation_id": conversation_id})

    async def unwatch(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None


def _changed(kind: str, event: Event) -> dict[str, Any]:
    conversation = event.get("conversation") or {}
    messages = event.get("messages") or []
    return {
        "type": "changed",
        "topic": kind,
        "event": event.get("type"),
        "conversation_id": conversation.get("id"),
        "owner": conversation.get("owner"),
        "message_ids": [message.get("id") for message in messages if isinstance(message, dict)],
    }


def _frame(raw: str) -> dict[str, Any] | None:
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) else None


def _watched_id(frame: dict[str, Any]) -> tuple[bool, int | None]:
    """(valid, conversation id or None) of a watch frame."""
    value = frame.get("conversation_id")
    if value is None:
        return True, None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return True, value
    return False, None


async def _refuse(websocket: WebSocket, code: int, error: str, message: str) -> None:
    await websocket.send_text(json.dumps({"type": "error", "code": error, "message": message}, ensure_ascii=False))
    await websocket.close(code)


@router.websocket("/api/agent/ws")
async def staff_socket(websocket: WebSocket) -> None:
    """The console's live feed (see the module docstring for the frames)."""
    app = websocket.app
    await websocket.accept()
    try:
        frame = _frame(await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_SECONDS))
    except (asyncio.TimeoutError, WebSocketDisconnect):
        if websocket.application_state == WebSocketState.CONNECTED:
            await _refuse(websocket, WS_INVALID_AUTH, "not_authenticated", "请先登录 (send an auth frame first)")
        return
    token = frame.get("token") if frame is not None and frame.get("type") == "auth" else None
    if not isinstance(token, str) or not token:
        await _refuse(websocket, WS_INVALID_AUTH, "not_authenticated", "请先登录 (the first frame must be auth)")
        return
    try:
        staff = await asyncio.to_thread(staff_for_token, token, app.state.settings, app.state.session_factory)
    except StaffAuthError as error:
        await _refuse(websocket, WS_INVALID_AUTH, error.code, error.message)
        return
    if staff.role not in CONSOLE_ROLES:
        await _refuse(websocket, WS_FORBIDDEN, "forbidden", f"无权访问 (role {staff.role} has no console feed)")
        return

    socket = _StaffSocket(websocket, app.state.hub.broker)
    subscribed = asyncio.Event()
    console = asyncio.create_task(socket.forward(topics.CONSOLE, "console", subscribed))
    try:
        await asyncio.wait_for(subscribed.wait(), timeout=10.0)
        await socket.send({"type": "ready", "username": staff.username, "role": staff.role})
        while True:
            frame = _frame(await websocket.receive_text())
            if frame is None:
                continue
            if frame.get("type") == "watch":
                valid, conversation_id = _watched_id(frame)
                if valid:
                    await socket.watch(conversation_id)
            elif frame.get("type") == "ping":
                # The login is checked again on every ping (every 25 s): an expired token or a disabled
                # account ends the feed as it ends the REST calls.
                try:
                    await asyncio.to_thread(staff_for_token, token, app.state.settings, app.state.session_factory)
                except StaffAuthError as error:
                    await _refuse(websocket, WS_INVALID_AUTH, error.code, error.message)
                    return
                await socket.send({"type": "pong"})
    except WebSocketDisconnect:
        pass
    finally:
        console.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await console
        await socket.unwatch()
