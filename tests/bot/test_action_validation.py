"""bot/action_validation.py: the Rasa server validates action-server responses exactly as Rasa does, faster."""

from __future__ import annotations

import json

from tests.bot.helpers import run_in_rasa_env

# Runs in the rasa env: imports `bot` the way the Rasa server does (installing the fix), then compares
# the installed validation with Rasa's original (jsonschema.validate per call) on each response.
PROBE = """
import json, sys
import bot
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction
from bot.action_validation import FAILURE_SUFFIX, validate_action_result

installed = RemoteAction._validate_action_result is validate_action_result
outcomes = []
for response in json.loads(sys.argv[1]):
    try:
        ours = RemoteAction("action_x", None)._validate_action_result(response)
    except ValidationError as error:
        ours = error.message
    try:
        validate(response, RemoteAction.action_response_format_spec())
        rasa = True
    except ValidationError as error:
        rasa = error.message + FAILURE_SUFFIX
    outcomes.append([ours, rasa])
print(json.dumps({"installed": installed, "outcomes": outcomes}, ensure_ascii=False))
"""

SESSION_START = {
    "events": [
        {"event": "session_started"},
        {"event": "slot", "name": "customer_tier", "value": "gold"},
        {"event": "slot", "name": "customer_identified", "value": True},
        {"event": "action", "name": "action_listen"},
    ],
    "responses": [],
}
FAQ_ANSWER = {"events": [], "responses": [{"text": "我们每天 9:00-21:00 营业", "buttons": []}]}
INVALID = [
    {"events": "not a list", "responses": []},
    {"events": [{"event": "no_such_event"}], "responses": []},
    {"events": [], "responses": ["not an object"]},
]


def test_valid_responses_pass_and_invalid_ones_fail_with_rasas_own_error() -> None:
    responses = [SESSION_START, FAQ_ANSWER, *INVALID]
    report = json.loads(run_in_rasa_env(PROBE, json.dumps(responses, ensure_ascii=False)))
    assert report["installed"] is True
    outcomes = report["outcomes"]
    assert outcomes[0] == [True, True] and outcomes[1] == [True, True]
    for ours, rasa in outcomes[2:]:
        assert isinstance(ours, str) and ours == rasa
        assert ours.endswith("/custom-actions")
