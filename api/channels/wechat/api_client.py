"""WeChat's server API (the part this channel uses): access token, customer-service messages, menu.

The access token lives in the database (crm.services.wechat_state), shared by every API process: WeChat
limits how often it may be fetched, and a fetch invalidates the previous token after a grace period.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from sqlalchemy.orm import Session, sessionmaker

from crm.services import wechat_state

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Errors meaning "this access_token is no good": fetch a new one and try once more.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
OUTSIDE_48_HOUR_WINDOW = 45015
DEFAULT_TOKEN_LIFETIME_SECONDS = 7200


class WeChatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatApiClient:
    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        appid: str,
        secret: str,
        session_factory: sessionmaker[Session],
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._appid = appid
        self._secret = secret
        self._session_factory = session_factory

    async def _in_session(self, fn: Callable[..., T], /, **kwargs: Any) -> T:
        def work() -> T:
            with self._session_factory.begin() as session:
                return fn(session, **kwargs)

        return await asyncio.to_thread(work)

    async def access_token(self) -> str:
        cached = await self._in_session(wechat_state.cached_access_token, appid=self._appid)
        return cached if cached is not None else await self._fetch_token()

    async def _fetch_token(self) -> str:
        body = await self._get_json(
            "/cgi-bin/token", {"grant_type": "client_credential", "appid": self._appid, "secret": self._secret}
        )
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatApiError(int(body.get("errcode", -1)), str(body.get("errmsg", "no access_token")))
        expires_in = int(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME_SECONDS)
        await self._in_session(
            wechat_state.store_access_token, appid=self._appid, access_token=token, expires_in_seconds=expires_in
        )
        logger.info("Fetched a new WeChat access token for %s (expires in %s s)", self._appid, expires_in)
        return token

    async def _get_json(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        response = await self._http.get(self._base + path, params=params)
        return _json(response)

    async def _post_with_token(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POSTs with the cached token; a token error is answered by one refresh and one retry."""
        token = await self.access_token()
        for attempt in (1, 2):
            response = await self._http.post(
                self._base + path,
                params={"access_token": token},
                # Chinese as UTF-8 rather than ASCII escapes, as WeChat's own examples send it.
                content=json.dumps(payload, ensure_ascii=False).encode(),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
            body = _json(response)
            errcode = int(body.get("errcode") or 0)
            if errcode == 0:
                return body
            if errcode in TOKEN_ERRORS and attempt == 1:
                logger.warning("WeChat rejected the access token (%s); fetching a new one", errcode)
                await self._in_session(wechat_state.forget_access_token, appid=self._appid, access_token=token)
                token = await self.access_token()
                continue
            raise WeChatApiError(errcode, str(body.get("errmsg", "")))
        raise AssertionError("unreachable")

    async def send_text(self, openid: str, content: str) -> None:
        """One customer-service text message (客服消息)."""
        await self._post_with_token(
            "/cgi-bin/message/custom/send", {"touser": openid, "msgtype": "text", "text": {"content": content}}
        )

    async def create_menu(self, menu: dict[str, Any]) -> None:
        await self._post_with_token("/cgi-bin/menu/create", menu)


def _json(response: httpx.Response) -> dict[str, Any]:
    if response.status_code != 200:
        raise WeChatApiError(-1, f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise WeChatApiError(-1, "response is not JSON") from exc
    if not isinstance(body, dict):
        raise WeChatApiError(-1, "response is not a JSON object")
    return body
