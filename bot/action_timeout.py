"""How long Rasa waits for the action server: ACTION_TIMEOUT_SECONDS instead of Rasa's fixed 5 minutes.

Rasa 3.6 passes `rasa.core.constants.DEFAULT_REQUEST_TIMEOUT` (300 s) to every action-server call and
offers no setting. The hub gives up on Rasa after RASA_TIMEOUT_SECONDS, so Rasa must give up on an action
before that, and the action server refuses to commit after its own, shorter deadline (actions/server.py):
the budget is ordered hub > Rasa > action commit (README "Time budgets").

Every call also carries the time Rasa sent it (core/internal_calls.py), so the action server's commit
deadline starts when Rasa started waiting.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import Any

from rasa.core.actions import action
from rasa.utils.endpoints import EndpointConfig

from core.internal_calls import SENT_AT_HEADER

logger = logging.getLogger(__name__)

ENV_NAME = "ACTION_TIMEOUT_SECONDS"


def _stamp_sent_at(request: Any) -> Any:
    @functools.wraps(request)
    async def stamped(self: EndpointConfig, *args: Any, **kwargs: Any) -> Any:
        kwargs["headers"] = {**(kwargs.get("headers") or {}), SENT_AT_HEADER: f"{time.time():.3f}"}
        return await request(self, *args, **kwargs)

    stamped.stamps_sent_at = True  # type: ignore[attr-defined]
    return stamped


def install() -> None:
    if not getattr(EndpointConfig.request, "stamps_sent_at", False):
        EndpointConfig.request = _stamp_sent_at(EndpointConfig.request)  # type: ignore[method-assign]
    raw = os.environ.get(ENV_NAME, "")
    if not raw:
        return
    seconds = float(raw)
    if seconds <= 0:
        raise ValueError(f"{ENV_NAME} must be positive, got {raw!r}")
    action.DEFAULT_REQUEST_TIMEOUT = seconds  # type: ignore[attr-defined]  # read at call time by RemoteAction.run
    logger.info("Action server calls time out after %.1f s", seconds)
