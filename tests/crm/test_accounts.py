"""Console logins in the CRM: the `python -m crm.accounts` command (passwords read from the terminal)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from crm import accounts
from crm.models import Agent, StaffAccount
from crm.services.accounts import authenticate


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_create_reads_the_password_twice_and_links_the_agent(
    blank_engine: Engine, blank_sessionmaker: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with blank_sessionmaker.begin() as session:
        session.add(Agent(name="李娜", username="agent.lina", skills=["hotel"], max_concurrent=2))
    monkeypatch.setattr(accounts.getpass, "getpass", lambda prompt: "correct horse battery")
    assert (
        accounts.main(["--url", _url(blank_engine), "create", "agent.lina", "--role", "agent", "--agent", "agent.lina"])
        == 0
    )
    with blank_sessionmaker() as session:
        account = session.scalar(select(StaffAccount).where(StaffAccount.username == "agent.lina"))
        assert account is not None and account.display_name == "李娜" and account.agent_id is not None
        assert authenticate(session, username="agent.lina", password="correct horse battery") is not None
    # Taken username, unknown agent, mismatching repeat: refused with exit code 2.
    assert accounts.main(["--url", _url(blank_engine), "create", "agent.lina", "--role", "ops"]) == 2
    assert accounts.main(["--url", _url(blank_engine), "create", "x", "--role", "agent", "--agent", "nobody"]) == 2
    answers = iter(["first-password", "second-password"])
    monkeypatch.setattr(accounts.getpass, "getpass", lambda prompt: next(answers))
    assert accounts.main(["--url", _url(blank_engine), "create", "ops2", "--role", "ops"]) == 2
    assert accounts.main(["--url", _url(blank_engine), "list"]) == 0
