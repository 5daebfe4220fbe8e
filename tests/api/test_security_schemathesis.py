"""Schemathesis against the app's own OpenAPI schema, in-process: no 5xx, and every response (errors too)
matches what the schema declares. Rasa is the scripted fake at the HTTP edge; the CRM is a real SQLite file.
The example count is bounded so the suite stays fast; `make bench` is the place for long runs."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from core.settings import Settings
from tests.api.conftest import SECRET
from tests.api.test_security import FakeServices

MAX_EXAMPLES = 40


@pytest.fixture
def api_app(seeded_sessionmaker: sessionmaker[Session]) -> FastAPI:
    app_settings = Settings(widget_secret=SECRET, rasa_url="http://rasa.internal:5005", rasa_timeout_seconds=1.0)
    return create_app(seeded_sessionmaker, app_settings, httpx.MockTransport(FakeServices().handle))


def test_generated_requests_never_get_a_5xx_and_match_the_schema(api_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/widget/messages", "/api/widget/history", "/health"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            response = case.call()
            assert response.status_code < 500, (case.method, case.path, response.text)
            case.validate_response(response)

        check()
