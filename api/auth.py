"""Logins for the agent console: `POST /api/auth/login` and the role dependency for staff routes.

Passwords are checked by crm.services.accounts (argon2id); the API hands out short-lived HS256 JWTs
(PyJWT) signed with settings.jwt_secret. Every request re-reads the account, so a deactivated login
stops working at once even with an unexpired token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

import jwt
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from api.deps import SettingsDep
from core.settings import Settings
from crm.enums import StaffRole
from crm.services.accounts import StaffAccountOut, authenticate, get_account

ALGORITHM = "HS256"

router = APIRouter(prefix="/api/auth", tags=["auth"])
_bearer = HTTPBearer(auto_error=False)


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    role: StaffRole


@dataclass(frozen=True)
class Staff:
    """The logged-in account behind a request."""

    account_id: int
    username: str
    display_name: str
    role: StaffRole
    agent_id: int | None


def _error(status: int, code: str, message: str) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status_code=status, detail={"code": code, "message": message}, headers=headers)


def session_factory(request: Request) -> sessionmaker[Session]:
    return request.app.state.session_factory


SessionFactoryDep = Annotated[sessionmaker[Session], Depends(session_factory)]


def create_access_token(account: StaffAccountOut, settings: Settings, *, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    claims: dict[str, Any] = {
        "sub": str(account.id),
        "username": account.username,
        "role": account.role,
        "iat": now,
        "exp": now + timedelta(minutes=settings.access_token_minutes),
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=ALGORITHM)


@router.post("/login", response_model=TokenOut)
def login(body: LoginIn, settings: SettingsDep, factory: SessionFactoryDep) -> TokenOut:
    """Exchange a username and password for a bearer token; 401 with a clear message otherwise."""
    with factory.begin() as session:
        account = authenticate(session, username=body.username.strip(), password=body.password)
    if account is None:
        raise _error(401, "invalid_credentials", "用户名或密码错误 (invalid username or password)")
    return TokenOut(access_token=create_access_token(account, settings), role=account.role)


class StaffAuthError(Exception):
    """A token that does not identify an active staff account; `code` and `message` say why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def staff_for_token(token: str, settings: Settings, factory: sessionmaker[Session]) -> Staff:
    """The account of a valid, unexpired token (HTTP bearer or the console websocket's first frame)."""
    try:
        claims = jwt.decode(token, settings.jwt_secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
        account_id = int(claims["sub"])
    except jwt.ExpiredSignatureError as error:
        raise StaffAuthError("token_expired", "登录已过期，请重新登录 (the token has expired)") from error
    except (jwt.InvalidTokenError, ValueError) as error:
        raise StaffAuthError("invalid_token", "登录凭证无效，请重新登录 (invalid token)") from error
    with factory() as session:
        account = get_account(session, account_id=account_id)
    if account is None or not account.active:
        raise StaffAuthError("account_disabled", "账号不存在或已停用 (the account is disabled)")
    return Staff(account.id, account.username, account.display_name, account.role, account.agent_id)


def current_staff(
    settings: SettingsDep,
    factory: SessionFactoryDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Staff:
    """The account of a valid, unexpired bearer token; 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _error(401, "not_authenticated", "请先登录 (log in first: Authorization: Bearer <token>)")
    try:
        return staff_for_token(credentials.credentials, settings, factory)
    except StaffAuthError as error:
        raise _error(401, error.code, error.message) from error


StaffDep = Annotated[Staff, Depends(current_staff)]


def require_roles(*roles: StaffRole) -> Callable[[Staff], Staff]:
    """A dependency that lets only `roles` through (403 for other logged-in roles)."""

    def dependency(staff: StaffDep) -> Staff:
        if staff.role not in roles:
            raise _error(403, "forbidden", f"无权访问 (role {staff.role} may not do this; needs {' or '.join(roles)})")
        return staff

    return dependency
