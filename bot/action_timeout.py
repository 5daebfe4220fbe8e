"""How long Rasa waits for the action server: ACTION_TIMEOUT_SECONDS instead of Rasa's fixed 5 minutes.

Rasa 3.6 passes `rasa.core.constants.DEFAULT_REQUEST_TIMEOUT` (300 s) to every action-server call and
offers no setting. The hub gives up on Rasa after RASA_TIMEOUT_SECONDS, so Rasa must give up on an action
before that, and the action server refuses to commit after its own, shorter deadline (actions/server.py):
the budget is ordered hub > Rasa > action commit (README "Time budgets").
"""

from __future__ import annotations

import logging
import os

from rasa.core.actions import action

logger = logging.getLogger(__name__)

ENV_NAME = "ACTION_TIMEOUT_SECONDS"


def install() -> None:
    raw = os.environ.get(ENV_NAME, "")
    if not raw:
        return
    seconds = float(raw)
    if seconds <= 0:
        raise ValueError(f"{ENV_NAME} must be positive, got {raw!r}")
    action.DEFAULT_REQUEST_TIMEOUT = seconds  # type: ignore[attr-defined]  # read at call time by RemoteAction.run
    logger.info("Action server calls time out after %.1f s", seconds)
