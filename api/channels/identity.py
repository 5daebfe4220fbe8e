"""Signed web identities: `<web_user_id>.<hmac-sha256 hex>` issued by the site that embeds the widget."""

from __future__ import annotations

import hashlib
import hmac
import re

WEB_USER_ID_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
_SIGNATURE_RE = re.compile(r"[0-9a-f]{64}")


def sign_web_user_id(web_user_id: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), web_user_id.encode(), hashlib.sha256).hexdigest()
    return f"{web_user_id}.{digest}"


def verify_identity_token(token: str, secret: str) -> str | None:
    """The web_user_id the token vouches for, or None when it is forged or malformed."""
    web_user_id, _, signature = token.rpartition(".")
    # Anything but 64 lowercase hex digits (e.g. a non-ASCII character, which compare_digest refuses
    # with a TypeError) is malformed, not an error.
    if not WEB_USER_ID_RE.fullmatch(web_user_id) or not _SIGNATURE_RE.fullmatch(signature):
        return None
    expected = sign_web_user_id(web_user_id, secret).rpartition(".")[2]
    return web_user_id if hmac.compare_digest(expected, signature) else None
