"""Validates action-server responses with a JSON-schema validator built once instead of on every call.

Rasa 3.6's `RemoteAction._validate_action_result` calls `jsonschema.validate()` for every custom-action
response. That function first checks the (large, unchanging) events schema against its meta-schema and
builds a new validator, and only then validates: 17 ms of CPU per action call on our machines, which was
the biggest single cost of the Rasa server once real actions run (py-spy under the benchmark load, see
bench/README.md). This keeps Rasa's behaviour — same schema, same `best_match` error, same message
suffix — with the schema checked and the validator built once: about 2 ms per call.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from jsonschema import validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

logger = logging.getLogger(__name__)

# Rasa's own wording, appended to the validation error exactly as RemoteAction does.
FAILURE_SUFFIX = (
    ". Failed to validate Action server response from API, "
    "make sure your response from the Action endpoint is valid. "
    f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
)


@lru_cache(maxsize=1)
def response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Drop-in for RemoteAction._validate_action_result (raises the same ValidationError)."""
    error = best_match(response_validator().iter_errors(result))
    if error is not None:
        error.message += FAILURE_SUFFIX
        raise error
    return True


def install() -> None:
    """Replaces the per-call validation in this process (idempotent)."""
    if RemoteAction._validate_action_result is validate_action_result:
        return
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    logger.debug("Action-server responses are validated with a cached JSON-schema validator")
