"""Starts the real system once per test session: action server, Rasa (model trained from data/), API hub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from crm.models import Conversation, Customer
from crm.services import conversation_ownership, queue
from stack.ephemeral import EphemeralStack, start_ephemeral_stack

# The e2e tests' name for the running system.
LiveStack = EphemeralStack


@pytest.fixture(scope="session")
def live_stack(tmp_path_factory: pytest.TempPathFactory, rasa_model: Path) -> Iterator[LiveStack]:
    stack = start_ephemeral_stack(tmp_path_factory.mktemp("stack"), rasa_model)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def api(live_stack: LiveStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_stack.api_url, timeout=30.0) as client:
        yield client


@pytest.fixture(autouse=True)
def demo_customers_start_fresh(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that used the live stack, the demo customers' open conversations are handed back and
    ended: a demo identity is one conversation for every browser, and a handoff one test left waiting (a
    gold customer's angry complaint escalates) would keep the bot silent in the next test."""
    yield
    if "live_stack" not in request.fixturenames:
        return
    stack: LiveStack = request.getfixturevalue("live_stack")
    with stack.session_factory.begin() as session:
        open_ids = session.scalars(
            select(Conversation.id)
            .join(Customer, Customer.id == Conversation.customer_id)
            .where(Customer.web_user_id.like("demo-%"), Conversation.status == "open")
        ).all()
        for conversation_id in open_ids:
            escalation = queue.open_escalation(session, conversation_id=conversation_id)
            if escalation is not None:
                queue.close(session, escalation_id=escalation.id, summary="e2e cleanup", outcome="resolved")
            conversation_ownership.close_conversation(
                session, conversation_id=conversation_id, reason="idle", actor="e2e cleanup"
            )
