"""Signed web identities: a short-lived JWT (HS256, WIDGET_SECRET) issued by the site that embeds the widget.

The embedding site signs `{"sub": "<web_user_id>", "exp": <unix time>}` (optionally `iat`) with the shared widget
secret when its user is logged in and hands the token to the widget. The hub accepts only HS256 tokens with a
`sub` that is a web_user_id and an `exp` in the future, at most `max_lifetime` away: a leaked token stops working
on its own. Anything else (unsigned, `alg: none`, tampered, expired, without `exp`, the old never-expiring
`<web_user_id>.<hmac>` form) is not an identity: the visitor stays anonymous.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Literal

import jwt

WEB_USER_ID_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
ALGORITHM = "HS256"
DEFAULT_LIFETIME_SECONDS = 3600
# A token valid for longer than this is refused even when signed: a long-lived token is a leaked token waiting.
MAX_LIFETIME_SECONDS = 7 * 24 * 3600
# Clock skew tolerated between the embedding site and the hub.
LEEWAY_SECONDS = 30

IdentityProblem = Literal["expired", "invalid"]


@dataclass(frozen=True)
class IdentityCheck:
    """The outcome of reading an identity token: the web_user_id it vouches for, or why it vouches for nobody."""

    web_user_id: str | None
    problem: IdentityProblem | None = None


def sign_web_user_id(
    web_user_id: str, secret: str, *, lifetime_seconds: int = DEFAULT_LIFETIME_SECONDS, now: float | None = None
) -> str:
    """A token for `web_user_id` valid for `lifetime_seconds` (what the embedding site does on its server)."""
    if not WEB_USER_ID_RE.fullmatch(web_user_id):
        raise ValueError(f"not a web_user_id: {web_user_id!r}")
    issued = int(time.time() if now is None else now)
    claims = {"sub": web_user_id, "iat": issued, "exp": issued + lifetime_seconds}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def check_identity_token(
    token: str, secret: str, *, max_lifetime_seconds: int = MAX_LIFETIME_SECONDS, now: float | None = None
) -> IdentityCheck:
    """Who the token vouches for; `problem` says why it vouches for nobody ("expired" or "invalid")."""
    current = time.time() if now is None else now
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # Times are checked below against `now` (one clock for exp, nbf and the lifetime limit).
            options={"require": ["exp", "sub"], "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError:
        return IdentityCheck(None, "invalid")
    subject, expires, not_before = claims.get("sub"), _number(claims.get("exp")), _number(claims.get("nbf", 0))
    if not isinstance(subject, str) or not WEB_USER_ID_RE.fullmatch(subject) or expires is None or not_before is None:
        return IdentityCheck(None, "invalid")
    if expires + LEEWAY_SECONDS <= current:
        return IdentityCheck(None, "expired")
    if not_before - LEEWAY_SECONDS > current:
        return IdentityCheck(None, "invalid")
    if expires - current > max_lifetime_seconds + LEEWAY_SECONDS:
        return IdentityCheck(None, "invalid")
    return IdentityCheck(subject)


def _number(value: object) -> float | None:
    """A JWT NumericDate, or None when the claim is not a number."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def verify_identity_token(token: str, secret: str) -> str | None:
    """The web_user_id the token vouches for, or None when it is forged, expired or malformed."""
    return check_identity_token(token, secret).web_user_id
