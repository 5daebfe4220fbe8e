"""Staff logins: argon2 passwords, expiring JWTs, 401 without or with a bad token, 403 for the wrong role."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from core.settings import Settings
from crm.models import StaffAccount
from crm.services.accounts import (
    DEMO_PASSWORD,
    AccountError,
    authenticate,
    create_account,
    demo_login_lines,
    list_accounts,
)
from tests.production import production_settings_values, strong_secret

JWT_SECRET = "test-jwt-secret-that-is-long-enough-0123456789"


@pytest.fixture
def settings() -> Settings:
    return Settings(jwt_secret=JWT_SECRET, access_token_minutes=30)


@pytest.fixture
def client(seeded_sessionmaker: sessionmaker[Session], settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(seeded_sessionmaker, settings)) as test_client:
        yield test_client


def login(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> dict:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("username", "role"),
    [("agent.lina", "agent"), ("agent.zhoumin", "agent"), ("supervisor", "supervisor"), ("ops", "ops")],
)
def test_demo_accounts_log_in_with_the_demo_password(client: TestClient, username: str, role: str) -> None:
    body = login(client, username)
    assert set(body) == {"access_token", "token_type", "role"}
    assert (body["token_type"], body["role"]) == ("bearer", role)
    claims = jwt.decode(body["access_token"], JWT_SECRET, algorithms=["HS256"])
    assert claims["role"] == role and claims["exp"] - claims["iat"] == 30 * 60


@pytest.mark.parametrize(
    "body",
    [
        {"username": "agent.lina", "password": "wrong-password"},
        {"username": "nobody", "password": DEMO_PASSWORD},
        {"username": "agent.zhaolei", "password": DEMO_PASSWORD},  # inactive agent: no login
    ],
)
def test_wrong_credentials_get_401_with_a_clear_message(client: TestClient, body: dict) -> None:
    response = client.post("/api/auth/login", json=body)
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == "invalid_credentials"
    assert "用户名或密码错误" in response.json()["detail"]["message"]


def test_malformed_login_is_422(client: TestClient) -> None:
    assert client.post("/api/auth/login", json={"username": "agent.lina"}).status_code == 422


def _token(claims: dict, secret: str = JWT_SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "not_authenticated"),
        ({"Authorization": "Bearer not-a-jwt"}, "invalid_token"),
        ({"Authorization": "Basic YWdlbnQ6cHc="}, "not_authenticated"),
    ],
)
def test_agent_routes_need_a_valid_token(client: TestClient, headers: dict, code: str) -> None:
    response = client.get("/api/agent/queue", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"]["code"] == code
    assert response.headers["www-authenticate"] == "Bearer"


def test_expired_forged_and_disabled_tokens_are_refused(
    client: TestClient, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    with seeded_sessionmaker() as session:
        account = session.scalar(select(StaffAccount).where(StaffAccount.username == "agent.lina"))
        assert account is not None
    past = datetime.now(timezone.utc) - timedelta(hours=2)
    expired = _token({"sub": str(account.id), "role": "agent", "iat": past, "exp": past + timedelta(minutes=30)})
    response = client.get("/api/agent/queue", headers={"Authorization": f"Bearer {expired}"})
    assert (response.status_code, response.json()["detail"]["code"]) == (401, "token_expired")

    forged = _token(
        {"sub": str(account.id), "role": "agent", "exp": datetime.now(timezone.utc) + timedelta(hours=1)}, "x" * 40
    )
    response = client.get("/api/agent/queue", headers={"Authorization": f"Bearer {forged}"})
    assert (response.status_code, response.json()["detail"]["code"]) == (401, "invalid_token")

    token = login(client, "agent.lina")["access_token"]
    assert client.get("/api/agent/queue", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with seeded_sessionmaker.begin() as session:
        session.execute(update(StaffAccount).where(StaffAccount.id == account.id).values(active=False))
    response = client.get("/api/agent/queue", headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, response.json()["detail"]["code"]) == (401, "account_disabled")


@pytest.mark.parametrize(
    ("username", "method", "path", "status"),
    [
        ("ops", "get", "/api/agent/queue", 403),
        ("supervisor", "get", "/api/agent/queue", 200),
        ("supervisor", "post", "/api/agent/conversations/1/claim", 403),  # only agents claim
        ("agent.lina", "get", "/api/agent/supervisor", 403),
        ("supervisor", "get", "/api/agent/supervisor", 200),
        ("agent.lina", "post", "/api/agent/customers/1/tier", 403),
    ],
)
def test_roles_are_enforced(client: TestClient, username: str, method: str, path: str, status: int) -> None:
    token = login(client, username)["access_token"]
    kwargs = {"json": {"tier": "gold", "reason": "x"}} if path.endswith("/tier") else {}
    response = getattr(client, method)(path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["detail"]["code"] == "forbidden"


def test_accounts_hash_passwords_and_refuse_bad_input(seeded_sessionmaker: sessionmaker[Session]) -> None:
    with seeded_sessionmaker() as session:
        created = create_account(session, username="ops2", password="long-enough-pw", role="ops", display_name="运营2")
        stored = session.get(StaffAccount, created.id)
        assert stored is not None and stored.password_hash.startswith("$argon2id$")
        assert "long-enough-pw" not in stored.password_hash
        assert authenticate(session, username="ops2", password="long-enough-pw") is not None
        assert authenticate(session, username="ops2", password="wrong") is None
        for kwargs in (
            {"username": "ops2", "password": "another-long-pw", "role": "ops"},  # taken
            {"username": "x", "password": "short", "role": "ops"},
            {"username": "y", "password": "long-enough-pw", "role": "admin"},
            {"username": "z", "password": "long-enough-pw", "role": "agent"},  # agent login without its agent
        ):
            with pytest.raises(AccountError):
                create_account(session, display_name="x", **kwargs)  # type: ignore[arg-type]
        session.rollback()


def test_demo_logins_are_listed_for_the_launcher(seeded_sessionmaker: sessionmaker[Session]) -> None:
    with seeded_sessionmaker() as session:
        usernames = [account.username for account in list_accounts(session)]
        lines = demo_login_lines(session)
    assert usernames[-2:] == ["supervisor", "ops"]
    assert {"agent.lina", "agent.wangqiang", "agent.zhoumin", "agent.chenjing", "agent.liuyang"} <= set(usernames)
    assert "agent.zhaolei" not in usernames  # inactive agents get no login
    assert all(line.endswith(DEMO_PASSWORD) for line in lines) and len(lines) == len(usernames)


def test_a_default_or_short_jwt_secret_is_refused_outside_development() -> None:
    with pytest.raises(ValueError, match="JWT_SECRET"):
        Settings(**production_settings_values(jwt_secret="changethis"))
    with pytest.raises(ValueError, match="JWT_SECRET"):
        Settings(**production_settings_values(jwt_secret="short"))
    strong = strong_secret()
    assert Settings(**production_settings_values(jwt_secret=strong)).jwt_secret == strong
