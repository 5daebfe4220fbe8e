"""The action server's entry point: token required except /health, bound to ACTION_HOST, late commits refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from actions.server import CommitTooLateError, _commit_deadline, bearer_matches, install_commit_guard
from core.internal_calls import SENT_AT_HEADER, seconds_since_sent
from core.settings import PROJECT_ROOT
from crm.models import Store
from stack.ephemeral import free_port
from tests.stack.deadline_probe_actions import DEADLINE_PROBE

TOKEN = "test-action-token-0123456789abcdefghij"
# The project's action app serving the test-only probe package (same authentication and deadline hooks).
PROBE_SERVER = """
import sys
from actions.server import create_action_app
from core.settings import get_settings_or_exit
settings = get_settings_or_exit()
app = create_action_app(settings, action_package="tests.stack.deadline_probe_actions")
app.run(settings.action_host, settings.action_port, workers=1, access_log=False)
"""


def _serve(argv: list[str], log_dir: Path) -> Iterator[str]:
    port = free_port()
    log = log_dir / "actions.log"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "ACTION_PORT": str(port), "ACTION_SERVER_TOKEN": TOKEN}
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, *argv], env=env, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            try:
                httpx.get(url + "/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(["-m", "actions.server"], tmp_path_factory.mktemp("actions"))


@pytest.fixture(scope="module")
def probe_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(["-c", PROBE_SERVER], tmp_path_factory.mktemp("probe-actions"))


def action_call(name: str = "action_greet") -> dict:
    return {
        "next_action": name,
        "sender_id": "conversation-1",
        "version": "3.6.21",
        "tracker": {
            "sender_id": "conversation-1",
            "slots": {},
            "latest_message": {"text": "你好", "intent": {"name": "greet"}, "entities": []},
            "events": [],
            "latest_event_time": None,
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {"responses": {}, "slots": {}, "intents": [], "entities": [], "actions": [], "forms": {}},
    }


def test_health_is_open_but_every_other_route_needs_the_token(action_server: str) -> None:
    assert httpx.get(action_server + "/health").status_code == 200
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer é".encode()},
    ):
        assert httpx.post(action_server + "/webhook", json=action_call(), headers=headers).status_code == 401
        assert httpx.get(action_server + "/actions", headers=headers).status_code == 401


def test_rasas_call_with_the_token_runs_the_action(action_server: str) -> None:
    response = httpx.post(
        action_server + "/webhook", json=action_call(), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    )
    assert response.status_code != 401
    listed = httpx.get(action_server + "/actions", headers={"Authorization": f"Bearer {TOKEN}"})
    assert {"name": "action_greet"} in listed.json()


def test_it_listens_only_on_the_configured_interface(action_server: str) -> None:
    """Bound to 127.0.0.1 (ACTION_HOST), it does not answer on another address, not even 127.0.0.2."""
    port = int(action_server.rsplit(":", 1)[1])
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.2:{port}/health", timeout=2)


def test_bearer_matches_is_exact() -> None:
    assert bearer_matches(f"Bearer {TOKEN}", TOKEN)
    assert not bearer_matches(f"Bearer {TOKEN}x", TOKEN)
    assert not bearer_matches(None, TOKEN)
    assert not bearer_matches("Bearer \udcff", TOKEN)


def test_a_commit_after_the_calls_deadline_is_rolled_back(seeded_sessionmaker: sessionmaker[Session]) -> None:
    install_commit_guard()

    def count() -> int:
        with seeded_sessionmaker() as session:
            return session.scalar(select(func.count()).select_from(Store)) or 0

    before = count()
    with seeded_sessionmaker() as session:
        template = session.scalars(select(Store)).first()
        assert template is not None
        columns = {c.key: getattr(template, c.key) for c in Store.__table__.columns if c.key != "id"}
    columns["code"] = "late-store"

    token = _commit_deadline.set(time.monotonic() - 0.01)  # Rasa gave up a moment ago
    try:
        with pytest.raises(CommitTooLateError):
            with seeded_sessionmaker.begin() as session:
                session.add(Store(**columns))
    finally:
        _commit_deadline.reset(token)
    assert count() == before

    token = _commit_deadline.set(time.monotonic() + 30)  # in time: written
    try:
        with seeded_sessionmaker.begin() as session:
            session.add(Store(**columns))
    finally:
        _commit_deadline.reset(token)
    assert count() == before + 1


def test_a_late_lookup_is_not_refused_it_writes_nothing(seeded_sessionmaker: sessionmaker[Session]) -> None:
    install_commit_guard()
    token = _commit_deadline.set(time.monotonic() - 0.01)
    try:
        with seeded_sessionmaker.begin() as session:
            assert session.scalars(select(Store)).first() is not None
    finally:
        _commit_deadline.reset(token)


def test_a_late_core_update_is_refused(seeded_sessionmaker: sessionmaker[Session]) -> None:
    install_commit_guard()
    with seeded_sessionmaker() as session:
        store = session.scalars(select(Store)).first()
        assert store is not None
        store_id, name = store.id, store.name
    token = _commit_deadline.set(time.monotonic() - 0.01)
    try:
        with pytest.raises(CommitTooLateError):
            with seeded_sessionmaker.begin() as session:
                session.execute(update(Store).where(Store.id == store_id).values(name="改名"))
    finally:
        _commit_deadline.reset(token)
    with seeded_sessionmaker() as session:
        assert session.get(Store, store_id).name == name  # type: ignore[union-attr]


def test_outside_an_action_call_commits_are_not_affected(seeded_sessionmaker: sessionmaker[Session]) -> None:
    install_commit_guard()
    with seeded_sessionmaker.begin() as session:
        session.execute(select(1))


def test_the_time_since_rasa_sent_the_call_comes_from_its_header() -> None:
    assert seconds_since_sent("1000.250", now=1003.0) == pytest.approx(2.75)
    assert seconds_since_sent(None, now=1003.0) == 0.0
    assert seconds_since_sent("soon", now=1003.0) == 0.0
    assert seconds_since_sent("nan", now=1003.0) == 0.0
    assert seconds_since_sent("inf", now=1003.0) == 0.0
    assert seconds_since_sent("1005", now=1003.0) == 0.0  # Rasa's clock ahead of ours: no time taken away


def test_a_call_that_waited_past_the_budget_before_it_was_read_may_not_write(probe_server: str) -> None:
    """The action server was paused (or swamped) while Rasa waited: Rasa has given up, so nothing is written."""
    stale = {"Authorization": f"Bearer {TOKEN}", SENT_AT_HEADER: f"{time.time() - 30:.3f}"}
    fresh = {"Authorization": f"Bearer {TOKEN}", SENT_AT_HEADER: f"{time.time():.3f}"}
    late = httpx.post(probe_server + "/webhook", json=action_call(DEADLINE_PROBE), headers=stale, timeout=30)
    in_time = httpx.post(probe_server + "/webhook", json=action_call(DEADLINE_PROBE), headers=fresh, timeout=30)
    assert late.status_code == in_time.status_code == 200, (late.text, in_time.text)
    assert late.json()["responses"][0]["text"] == "past"
    assert in_time.json()["responses"][0]["text"] == "in time"
