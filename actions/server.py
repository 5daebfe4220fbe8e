"""The action server's entry point: rasa-sdk's app, callable only by Rasa, on the configured interface.

`python -m actions.server` replaces `python -m rasa_sdk`. Every route except /health needs
`Authorization: Bearer <ACTION_SERVER_TOKEN>` (Rasa sends it: see endpoints.yml); anything else gets 401,
so no other process can hand the actions a forged tracker (another customer's id, injected slots).

Each call also gets a commit deadline: Rasa stops waiting after ACTION_TIMEOUT_SECONDS, so a CRM
transaction that would commit after `action_commit_deadline_seconds` is rolled back instead. A
customer who was told "系统繁忙" never finds a booking or ticket created behind their back. The deadline
counts from when Rasa sent the call (its X-Sent-At header, core/internal_calls.py), so a call that waited
in a paused or overloaded action server is refused its writes once it is read.
"""

from __future__ import annotations

import hmac
import logging
import time
from contextvars import ContextVar
from typing import Any

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from core.internal_calls import SENT_AT_HEADER, seconds_since_sent
from core.logging import install_pii_masking
from core.settings import Settings, get_settings_or_exit
from crm.db import get_sessionmaker
from crm.policy import use_policy_edits
from crm.services.content import policy_edit_reader

logger = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health"})
_commit_deadline: ContextVar[float | None] = ContextVar("action_commit_deadline", default=None)


class CommitTooLateError(RuntimeError):
    """The action's caller has given up; committing now would write behind the customer's back."""


_WROTE = "action_server_wrote"


def _note_orm_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


def _note_flush(session: Session, flush_context: Any, instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        session.info[_WROTE] = True


def _forget_writes(session: Session) -> None:
    session.info.pop(_WROTE, None)


def _refuse_late_commit(session: Session) -> None:
    """Only a transaction that writes is refused: a late lookup (read-only commit) changes nothing."""
    wrote = session.info.get(_WROTE, False) or bool(session.new or session.dirty or session.deleted)
    deadline = _commit_deadline.get()
    if wrote and deadline is not None and time.monotonic() > deadline:
        raise CommitTooLateError("commit refused: past the action call's deadline (Rasa has stopped waiting)")


def install_commit_guard() -> None:
    for name, listener in (
        ("do_orm_execute", _note_orm_write),
        ("before_flush", _note_flush),
        ("before_commit", _refuse_late_commit),
        ("after_commit", _forget_writes),
        ("after_rollback", _forget_writes),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def bearer_matches(header: str | None, token: str) -> bool:
    """Constant-time check of `Authorization: Bearer <token>` (any non-ASCII header simply fails)."""
    expected = f"Bearer {token}".encode()
    provided = (header or "").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(provided, expected)


def create_action_app(settings: Settings, action_package: str = "actions") -> Sanic:
    # No CORS: a browser has no business calling the action server.
    app = create_app(action_package, cors_origins=None)
    token = settings.action_server_token
    budget = settings.action_commit_deadline_seconds
    install_commit_guard()

    @app.on_request  # type: ignore[untyped-decorator]  # rasa_sdk's create_app is untyped, so is `app`
    async def _authenticate(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        if not bearer_matches(request.headers.get("authorization"), token):
            logger.warning("Refused unauthenticated %s %s from %s", request.method, request.path, request.ip)
            return response.json({"error": "unauthorized"}, status=401)
        waited = seconds_since_sent(request.headers.get(SENT_AT_HEADER), time.time())
        _commit_deadline.set(time.monotonic() + budget - waited)
        return None

    return app


def warm_up() -> None:
    """Loads what the first booking turn would load (jionlp's dictionaries: seconds) before serving:
    a cold first call would otherwise overrun the action budget (ACTION_TIMEOUT_SECONDS)."""
    from actions.datetimes import now, parse_when

    started = time.monotonic()
    parse_when("明天下午三点", now())
    logger.info("Warmed up in %.1f s", time.monotonic() - started)


def main() -> None:
    settings = get_settings_or_exit()
    utils.configure_colored_logging("INFO")
    utils.update_sanic_log_level()
    install_pii_masking()
    use_policy_edits(policy_edit_reader(get_sessionmaker()))  # ops' edits of escalation rules etc., live
    warm_up()
    app = create_action_app(settings)
    logger.info("Action server on %s:%s (token required)", settings.action_host, settings.action_port)
    run_kwargs: dict[str, Any] = {"workers": utils.number_of_sanic_workers(), "access_log": False}
    app.run(settings.action_host, settings.action_port, **run_kwargs)


if __name__ == "__main__":
    main()
