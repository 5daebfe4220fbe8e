"""WeChat's callback protocol (消息加解密): signatures, safe-mode decryption and passive replies, via wechatpy.

Plain mode: `signature` = sha1(sorted(token, timestamp, nonce)). Safe mode (`encrypt_type=aes`):
`msg_signature` = sha1(sorted(token, timestamp, nonce, Encrypt)), Encrypt = base64(AES-256-CBC(key, iv=key[:16],
random16 + len32be + xml + appid, PKCS#7 to a 32-byte block)); the appid at the end must be ours.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import xmltodict  # type: ignore[import-untyped]
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature


class ForgedRequestError(Exception):
    """The signature (or the appid inside a safe-mode payload) is not ours: answer 403, store nothing."""


class MalformedRequestError(Exception):
    """Not a WeChat message we can read: answer 400, store nothing."""


@dataclass(frozen=True)
class CallbackQuery:
    signature: str | None
    timestamp: str
    nonce: str
    encrypt_type: str | None = None
    msg_signature: str | None = None

    @property
    def safe_mode(self) -> bool:
        return (self.encrypt_type or "raw").lower() == "aes"


@dataclass(frozen=True)
class Incoming:
    """One message or event from a WeChat user, as the official account received it."""

    openid: str  # FromUserName
    account: str  # ToUserName: the official account's original id (gh_...)
    msg_type: str  # text, image, voice, video, shortvideo, location, link, event
    create_time: str
    msg_id: str | None
    content: str = ""
    event: str | None = None
    event_key: str | None = None
    pic_url: str | None = None
    # WeChat's speech recognition of a voice message, when the account has it switched on.
    recognition: str | None = None

    @property
    def key(self) -> str:
        """WeChat's retry key: MsgId for messages, FromUserName + CreateTime for events."""
        return f"msg:{self.msg_id}" if self.msg_id else f"evt:{self.openid}:{self.create_time}"


class WeChatProtocol:
    def __init__(self, *, token: str, aes_key: str, appid: str) -> None:
        self._token = token
        self._crypto = WeChatCrypto(token, aes_key, appid)

    def verify_url(self, *, signature: str, timestamp: str, nonce: str) -> None:
        try:
            check_signature(self._token, signature, timestamp, nonce)
        except InvalidSignatureException as exc:
            raise ForgedRequestError("bad signature") from exc

    def open(self, query: CallbackQuery, body: bytes) -> Incoming:
        """Verifies and (in safe mode) decrypts a callback body; raises ForgedRequestError or MalformedRequestError."""
        if query.safe_mode:
            # msg_signature authenticates the ciphertext; WeChat also sends `signature`, checked when present.
            if query.signature is not None:
                self.verify_url(signature=query.signature, timestamp=query.timestamp, nonce=query.nonce)
            if not query.msg_signature:
                raise ForgedRequestError("safe mode without msg_signature")
            envelope = _parse_xml(body)
            encrypted = envelope.get("Encrypt")
            if not isinstance(encrypted, str) or not encrypted:
                raise MalformedRequestError("safe-mode body without Encrypt")
            try:
                plain = self._crypto.decrypt_message(envelope, query.msg_signature, query.timestamp, query.nonce)
            except (InvalidSignatureException, InvalidAppIdException) as exc:
                raise ForgedRequestError(type(exc).__name__) from exc
            except Exception as exc:  # bad base64, bad block size, bad padding: cryptography/struct/unicode errors
                raise MalformedRequestError(f"cannot decrypt: {type(exc).__name__}") from exc
            fields = _parse_xml(plain.encode())
        else:
            if query.signature is None:
                raise ForgedRequestError("no signature")
            self.verify_url(signature=query.signature, timestamp=query.timestamp, nonce=query.nonce)
            fields = _parse_xml(body)
        return _incoming(fields)

    def reply(self, query: CallbackQuery, incoming: Incoming, content: str) -> str:
        """A passive text reply, encrypted and signed when the request came in safe mode."""
        # wechatpy wraps the content in CDATA, which "]]>" would end early.
        safe_content = content.replace("]]>", "]] >")
        xml = TextReply(target=incoming.openid, source=incoming.account, content=safe_content).render()
        if query.safe_mode:
            return self._crypto.encrypt_message(xml, query.nonce, str(int(time.time())))
        return xml


def _parse_xml(body: bytes) -> dict[str, Any]:
    # A DOCTYPE has no business in a WeChat message (and is how entity-expansion attacks start).
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise MalformedRequestError("DOCTYPE/ENTITY in body")
    try:
        parsed = xmltodict.parse(body, disable_entities=True)
    except Exception as exc:  # expat errors, encoding errors
        raise MalformedRequestError(f"not XML: {type(exc).__name__}") from exc
    root = parsed.get("xml") if isinstance(parsed, dict) else None
    if not isinstance(root, dict):
        raise MalformedRequestError("no <xml> root")
    return root


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedRequestError(f"{name} is not text")
    return value


def _incoming(fields: dict[str, Any]) -> Incoming:
    openid, account, msg_type = _text(fields, "FromUserName"), _text(fields, "ToUserName"), _text(fields, "MsgType")
    create_time = _text(fields, "CreateTime")
    if not openid or not account or not msg_type or not create_time or not create_time.isdigit():
        raise MalformedRequestError("missing FromUserName/ToUserName/MsgType/CreateTime")
    if len(openid) > 64:
        raise MalformedRequestError("FromUserName too long")
    msg_type = msg_type.strip().lower()
    msg_id = _text(fields, "MsgId")
    if msg_type != "event" and not msg_id:
        raise MalformedRequestError("message without MsgId")
    if msg_id is not None and (len(msg_id) > 64 or len(create_time) > 20):
        raise MalformedRequestError("MsgId or CreateTime too long")
    return Incoming(
        openid=openid,
        account=account,
        msg_type=msg_type,
        create_time=create_time,
        msg_id=msg_id,
        content=_text(fields, "Content") or "",
        event=(_text(fields, "Event") or "").lower() or None,
        event_key=_text(fields, "EventKey"),
        pic_url=_text(fields, "PicUrl"),
        recognition=_text(fields, "Recognition"),
    )
