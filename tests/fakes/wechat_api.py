"""A local fake of WeChat's server API, faithful to the published protocol for the calls the channel makes:

- GET  /cgi-bin/token?grant_type=client_credential&appid=&secret=   -> {"access_token", "expires_in"}
- POST /cgi-bin/message/custom/send?access_token=                   -> 客服消息 (text)
- POST /cgi-bin/menu/create?access_token=                           -> custom menu

with WeChat's error codes: 40001 (invalid credential), 42001 (access_token expired), 41001 (missing token),
40013 (invalid appid), 40125 (invalid appsecret), 40003 (invalid openid), 44002 (empty post data),
47001 (malformed JSON), 45002 (content too long), 40016/40017/40019 (bad menu), and any code injected
per test (e.g. 45015 outside the 48-hour window, 45047 too many customer-service messages).
It is a real HTTP server on a free port; tests point WECHAT_API_BASE at `.url`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_TEXT_BYTES = 2048
ERRMSG = {
    0: "ok",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40016: "invalid button size",
    40017: "invalid button type",
    40019: "invalid button key size",
    40125: "invalid appsecret",
    41001: "access_token missing",
    42001: "access_token expired",
    44002: "empty post data",
    45002: "content size out of limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    47001: "data format error",
}


@dataclass
class SentMessage:
    touser: str
    content: str
    access_token: str


@dataclass
class FakeWeChatApi:
    appid: str
    secret: str
    token_lifetime_seconds: int = 7200
    url: str = ""
    sent: list[SentMessage] = field(default_factory=list)
    menus: list[dict[str, Any]] = field(default_factory=list)
    token_fetches: int = 0
    send_attempts: int = 0
    _tokens: dict[str, float] = field(default_factory=dict)  # token -> monotonic expiry
    _revoked: set[str] = field(default_factory=set)
    _injected: dict[str, list[int]] = field(default_factory=dict)
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- test controls -------------------------------------------------------------------------------

    def fail_next(self, path: str, errcode: int, times: int = 1) -> None:
        """The next `times` calls to `path` (e.g. "/cgi-bin/message/custom/send") answer `errcode`."""
        with self._lock:
            self._injected.setdefault(path, []).extend([errcode] * times)

    def expire_tokens(self) -> None:
        """Every issued token reaches its expiry now (WeChat then answers 42001)."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = time.monotonic() - 1

    def revoke_tokens(self) -> None:
        """Every issued token becomes invalid (as when another server fetched a new one: 40001)."""
        with self._lock:
            self._revoked.update(self._tokens)

    def wait_for_sent(self, count: int, timeout_seconds: float = 10.0) -> list[SentMessage]:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.sent) >= count:
                    return list(self.sent)
            time.sleep(0.02)
        with self._lock:
            return list(self.sent)

    # --- the protocol --------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes) -> dict[str, Any]:
        with self._lock:
            injected = self._injected.get(path)
            if path == "/cgi-bin/message/custom/send":
                self.send_attempts += 1
            if method == "GET" and path == "/cgi-bin/token":
                return self._token(query)
            if method != "POST" or path not in ("/cgi-bin/message/custom/send", "/cgi-bin/menu/create"):
                return _error(-1)  # WeChat answers unknown paths with a generic system error
            token_error = self._check_token(query.get("access_token"))
            if token_error:
                return _error(token_error)
            if injected:
                return _error(injected.pop(0))
            if not body:
                return _error(44002)
            try:
                payload = json.loads(body)
            except ValueError:
                return _error(47001)
            if not isinstance(payload, dict):
                return _error(47001)
            if path == "/cgi-bin/menu/create":
                return self._menu(payload)
            return self._custom_send(payload, query["access_token"])

    def _token(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("grant_type") != "client_credential":
            return _error(40002)
        if query.get("appid") != self.appid:
            return _error(40013)
        if query.get("secret") != self.secret:
            return _error(40125)
        self.token_fetches += 1
        token = f"FAKE-TOKEN-{next(self._counter)}"
        self._tokens[token] = time.monotonic() + self.token_lifetime_seconds
        return {"access_token": token, "expires_in": self.token_lifetime_seconds}

    def _check_token(self, token: str | None) -> int:
        if not token:
            return 41001
        if token not in self._tokens or token in self._revoked:
            return 40001
        if self._tokens[token] <= time.monotonic():
            return 42001
        return 0

    def _custom_send(self, payload: dict[str, Any], token: str) -> dict[str, Any]:
        touser = payload.get("touser")
        if not isinstance(touser, str) or not touser:
            return _error(40003)
        if payload.get("msgtype") != "text":
            return _error(47001)
        content = (payload.get("text") or {}).get("content")
        if not isinstance(content, str):
            return _error(47001)
        if len(content.encode()) > MAX_TEXT_BYTES:
            return _error(45002)
        self.sent.append(SentMessage(touser=touser, content=content, access_token=token))
        return _error(0)

    def _menu(self, payload: dict[str, Any]) -> dict[str, Any]:
        buttons = payload.get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            return _error(40016)
        for button in buttons:
            for leaf in button.get("sub_button") or [button]:
                if leaf.get("type") != "click":
                    return _error(40017)
                if not leaf.get("key") or len(leaf["key"].encode()) > 128:
                    return _error(40019)
        self.menus.append(payload)
        return _error(0)


def _error(errcode: int) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": ERRMSG.get(errcode, "system error")}


@contextmanager
def running_fake_wechat_api(appid: str, secret: str) -> Iterator[FakeWeChatApi]:
    fake = FakeWeChatApi(appid=appid, secret=secret)

    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            answer = json.dumps(fake.handle(method, parts.path, query, body), ensure_ascii=False).encode()
            self.send_response(200)  # WeChat reports errors in the JSON body with HTTP 200
            self.send_header("Content-Type", "application/json; encoding=utf-8")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
