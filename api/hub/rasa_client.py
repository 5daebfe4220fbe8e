"""HTTP client for the Rasa server's REST channel (internal; never exposed to customers)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

logger = logging.getLogger(__name__)

REST_WEBHOOK_PATH = "/webhooks/rest/webhook"
# The tracker look-up for analytics runs in the background (nobody waits for it), so a busy Rasa gets longer.
PARSE_TIMEOUT_SECONDS = 10.0


class RasaUnavailableError(Exception):
    """The Rasa server did not answer in time or answered with an error."""


class RasaNotReachedError(RasaUnavailableError):
    """The connection was refused: Rasa never saw the message, so another replica may take it."""


@dataclass(frozen=True)
class BotReply:
    """One message the bot wants to send: text plus optional buttons, image or custom payload."""

    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    image: str | None = None
    custom: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any] | None:
        extras: dict[str, Any] = {}
        if self.buttons:
            extras["buttons"] = self.buttons
        if self.image:
            extras["image"] = self.image
        if self.custom:
            extras["custom"] = self.custom
        return extras or None


def parse_rest_replies(body: Any) -> list[BotReply]:
    """Turns the REST channel's JSON list into BotReply objects, ignoring malformed items."""
    if not isinstance(body, list):
        raise RasaUnavailableError(f"unexpected REST channel response: {body!r:.200}")
    replies = []
    for item in body:
        if not isinstance(item, dict):
            continue
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in item.get("buttons") or []
            if isinstance(b, dict)
        ]
        text = item.get("text") or ""
        if text or buttons or item.get("image") or item.get("custom"):
            replies.append(BotReply(text=text, buttons=buttons, image=item.get("image"), custom=item.get("custom")))
    return replies


# Characters a path segment may hold as they are (RFC 3986 pchar), so only "/", "?", "#", "%" … are escaped.
SENDER_SAFE = ":@!$&'()*+,;=-._~"


class RasaClient:
    """Sends one customer message to Rasa and returns the bot's replies."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        timeout_seconds: float,
        headers: Callable[[], Mapping[str, str]] | None = None,  # e.g. the JWT Rasa requires
    ) -> None:
        self._http = http
        self._headers = headers
        self._url = base_url.rstrip("/") + REST_WEBHOOK_PATH
        self._timeout = timeout_seconds

    async def send(self, *, sender_id: str, message: str, metadata: dict[str, Any]) -> list[BotReply]:
        try:
            response = await self._http.post(
                self._url,
                json={"sender": sender_id, "message": message, "metadata": metadata},
                timeout=self._timeout,
                headers=self._headers() if self._headers else None,
            )
            response.raise_for_status()
            return parse_rest_replies(response.json())
        except httpx.ConnectError as exc:
            raise RasaNotReachedError(f"{type(exc).__name__}: {exc}") from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailableError(f"{type(exc).__name__}: {exc}") from exc

    async def tracker(self, *, sender_id: str, timeout_seconds: float | None = None) -> dict[str, Any]:
        """The conversation's Rasa tracker without its events (Rasa's HTTP API, the hub's admin JWT)."""
        # Sanic matches route parameters on the raw path (no unquoting): ":" in "web:…" must stay as it is
        # ("%3A" would name another, empty conversation).
        url = self._url.removesuffix(REST_WEBHOOK_PATH) + f"/conversations/{quote(sender_id, safe=SENDER_SAFE)}/tracker"
        try:
            response = await self._http.get(
                url,
                params={"include_events": "NONE"},
                timeout=timeout_seconds or self._timeout,
                headers=self._headers() if self._headers else None,
            )
            response.raise_for_status()
            tracker = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaUnavailableError(f"{type(exc).__name__}: {exc}") from exc
        return tracker if isinstance(tracker, dict) else {}

    async def slots(self, *, sender_id: str) -> dict[str, Any]:
        """The conversation's current slots."""
        slots = (await self.tracker(sender_id=sender_id)).get("slots")
        return slots if isinstance(slots, dict) else {}

    async def latest_parse(self, *, sender_id: str) -> dict[str, Any]:
        """What NLU made of the conversation's latest message (`latest_message` of the tracker)."""
        tracker = await self.tracker(sender_id=sender_id, timeout_seconds=max(self._timeout, PARSE_TIMEOUT_SECONDS))
        latest = tracker.get("latest_message")
        return latest if isinstance(latest, dict) else {}
