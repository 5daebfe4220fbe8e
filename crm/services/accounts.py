"""Console logins for agents, supervisors and ops: argon2id password hashes (argon2-cffi), roles.

Tokens are the API's business (api/auth.py); this module only stores accounts and checks passwords.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.enums import STAFF_ROLES, StaffRole
from crm.models import Agent, StaffAccount
from crm.schemas import Dto

# The development password of every demo login (crm/seed/data/agents.yml); never used outside development.
DEMO_PASSWORD = "demo1234"
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()
# Verifying against this when the username is unknown keeps the response time the same as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class AccountError(ValueError):
    """An account cannot be created as asked (duplicate username, weak password, unknown role)."""


class StaffAccountOut(Dto):
    id: int
    username: str
    display_name: str
    role: StaffRole
    agent_id: int | None
    active: bool


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_account(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str,
    agent_id: int | None = None,
) -> StaffAccountOut:
    """A new active login; AccountError for a taken username, a short password or a role/agent mismatch."""
    if role not in STAFF_ROLES:
        raise AccountError(f"role must be one of {list(STAFF_ROLES)}, got {role!r}")
    if (role == "agent") != (agent_id is not None):
        raise AccountError("an agent login must name its agent, and only agent logins may")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    account = StaffAccount(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
        agent_id=agent_id,
    )
    try:
        with session.begin_nested():
            session.add(account)
            session.flush()
    except IntegrityError as error:
        raise AccountError(f"username {username!r} or its agent already has a login") from error
    return StaffAccountOut.model_validate(account)


def authenticate(session: Session, *, username: str, password: str) -> StaffAccountOut | None:
    """The active account when the password matches, else None (same work either way)."""
    account = session.scalar(select(StaffAccount).where(StaffAccount.username == username))
    if account is None or not account.active:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return None
    try:
        _hasher.verify(account.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
        session.flush()
    return StaffAccountOut.model_validate(account)


def get_account(session: Session, *, account_id: int) -> StaffAccountOut | None:
    account = session.get(StaffAccount, account_id)
    return StaffAccountOut.model_validate(account) if account is not None else None


def list_accounts(session: Session) -> list[StaffAccountOut]:
    """Every login, agents first then supervisors and ops (for the launcher to print the demo logins)."""
    order = {role: index for index, role in enumerate(STAFF_ROLES)}
    accounts = [StaffAccountOut.model_validate(a) for a in session.scalars(select(StaffAccount))]
    return sorted(accounts, key=lambda account: (order[account.role], account.username))


def seed_demo_accounts(session: Session, *, staff: list[tuple[str, str, str]], password: str = DEMO_PASSWORD) -> int:
    """A login for every active agent plus each (username, name, role) in `staff`; existing ones are kept."""
    existing = set(session.scalars(select(StaffAccount.username)))
    created = 0
    for agent in session.scalars(select(Agent).where(Agent.active).order_by(Agent.id)):
        if agent.username not in existing:
            create_account(
                session,
                username=agent.username,
                password=password,
                role="agent",
                display_name=agent.name,
                agent_id=agent.id,
            )
            created += 1
    for username, name, role in staff:
        if username not in existing:
            create_account(session, username=username, password=password, role=role, display_name=name)
            created += 1
    return created


def demo_login_lines(session: Session, *, password: str = DEMO_PASSWORD) -> list[str]:
    """One line per login for the launcher to print in development, e.g. 'agent.lina  agent  李娜  demo1234'."""
    accounts = [account for account in list_accounts(session) if account.active]
    width = max((len(account.username) for account in accounts), default=0)
    return [
        f"{account.username.ljust(width)}  {account.role.ljust(10)}  {account.display_name}  {password}"
        for account in accounts
    ]
