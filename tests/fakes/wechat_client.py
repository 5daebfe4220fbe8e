"""Plays WeChat's server towards our `/wechat` URL: signed (and in safe mode encrypted) XML, as WeChat sends it.
Built on tests/fakes/wechat_crypto.py, not on wechatpy, so it checks the channel rather than mirroring it."""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import xmltodict  # type: ignore[import-untyped]

from tests.fakes import wechat_crypto

DEV_TOKEN = "dev-wechat-token"
DEV_APPID = "wx0123456789abcdef"
DEV_SECRET = "dev-wechat-secret"
DEV_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ACCOUNT = "gh_0123456789ab"

_msg_ids = itertools.count(int(time.time() * 1000) * 1000)


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass
class WeChatRequest:
    params: dict[str, str]
    body: bytes


@dataclass
class ScriptedWeChat:
    token: str = DEV_TOKEN
    appid: str = DEV_APPID
    aes_key: str = DEV_AES_KEY
    safe_mode: bool = False
    create_time: itertools.count = field(default_factory=lambda: itertools.count(int(time.time())))

    def xml(self, openid: str, msg_type: str, msg_id: str | None = None, **fields: str) -> str:
        parts = [
            f"<ToUserName>{cdata(ACCOUNT)}</ToUserName>",
            f"<FromUserName>{cdata(openid)}</FromUserName>",
            f"<CreateTime>{next(self.create_time)}</CreateTime>",
            f"<MsgType>{cdata(msg_type)}</MsgType>",
        ]
        parts += [f"<{name}>{cdata(value)}</{name}>" for name, value in fields.items()]
        if msg_type != "event":
            parts.append(f"<MsgId>{msg_id or next(_msg_ids)}</MsgId>")
        return "<xml>" + "".join(parts) + "</xml>"

    def text(self, openid: str, content: str, msg_id: str | None = None) -> str:
        return self.xml(openid, "text", msg_id, Content=content)

    def event(self, openid: str, event: str, key: str | None = None) -> str:
        fields = {"Event": event}
        if key is not None:
            fields["EventKey"] = key
        return self.xml(openid, "event", **fields)

    def request(self, xml: str, *, timestamp: str | None = None, nonce: str | None = None) -> WeChatRequest:
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or str(secrets.randbelow(10**9))
        params = {
            "signature": wechat_crypto.sign(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": xmltodict.parse(xml)["xml"]["FromUserName"],
        }
        if not self.safe_mode:
            return WeChatRequest(params, xml.encode())
        encrypted = wechat_crypto.encrypt(self.aes_key, self.appid, xml)
        params |= {"encrypt_type": "aes", "msg_signature": wechat_crypto.sign(self.token, timestamp, nonce, encrypted)}
        body = f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt></xml>"
        return WeChatRequest(params, body.encode())

    def open_reply(self, body: str) -> dict[str, Any] | None:
        """The reply's fields, None for `success`/empty; in safe mode the signature and appid are checked."""
        if body in ("", "success"):
            return None
        fields = xmltodict.parse(body)["xml"]
        if not self.safe_mode:
            return fields
        expected = wechat_crypto.sign(self.token, fields["TimeStamp"], fields["Nonce"], fields["Encrypt"])
        if fields["MsgSignature"] != expected:
            raise wechat_crypto.CryptoCheckError("reply signature does not match")
        xml, appid, _ = wechat_crypto.decrypt(self.aes_key, fields["Encrypt"])
        if appid != self.appid:
            raise wechat_crypto.CryptoCheckError(f"reply encrypted for {appid}")
        return xmltodict.parse(xml)["xml"]
