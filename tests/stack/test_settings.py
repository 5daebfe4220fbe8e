"""Topology derived from hosts and ports, time budgets in order, secrets refused with one line."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from core.settings import PROJECT_ROOT, Settings, secret_problem
from stack.processes import service_specs, settings_env
from tests.production import REAL_WECHAT_ACCOUNT, production_settings_values


def strong() -> str:
    return secrets.token_urlsafe(32)


def test_urls_follow_the_ports_and_hosts() -> None:
    settings = Settings(rasa_port=5605, action_port=5655, rasa_host="10.0.0.5", action_host="10.0.0.6")
    assert settings.rasa_url == "http://10.0.0.5:5605"
    assert settings.action_endpoint_url == "http://10.0.0.6:5655/webhook"
    assert settings.action_health_url == "http://10.0.0.6:5655/health"


def test_explicit_urls_win_and_may_be_lists() -> None:
    settings = Settings(rasa_url="http://a:1, http://b:2", action_endpoint_url="http://c:3/webhook,http://d:4/webhook")
    assert settings.rasa_urls == ["http://a:1", "http://b:2"]
    assert settings.action_endpoint_urls == ["http://c:3/webhook", "http://d:4/webhook"]
    assert settings.action_health_urls == ["http://c:3/health", "http://d:4/health"]
    assert settings_env(settings)["ACTION_ENDPOINT_URL"] == "http://c:3/webhook,http://d:4/webhook"


def test_each_rasa_server_needs_its_own_action_server() -> None:
    with pytest.raises(ValueError, match="each Rasa server needs its own"):
        Settings(rasa_url="http://a:1,http://b:2", action_endpoint_url="http://c:3/webhook")


SHARED_STATE = {"database_url": "postgresql+psycopg://localhost/crm", "redis_url": "redis://localhost:6379/0"}


def test_replicas_take_consecutive_ports_and_pair_rasa_with_its_action_server() -> None:
    settings = Settings(replicas=2, rasa_port=5605, action_port=5655, api_port=8600, **SHARED_STATE)
    assert settings.rasa_urls == ["http://127.0.0.1:5605", "http://127.0.0.1:5606"]
    assert settings.action_endpoint_urls == ["http://127.0.0.1:5655/webhook", "http://127.0.0.1:5656/webhook"]
    specs = {spec.name: spec for spec in service_specs(settings, PROJECT_ROOT / "models" / "m.tar.gz")}
    assert sorted(specs) == ["actions-1", "actions-2", "api", "rasa-1", "rasa-2"]
    assert specs["actions-2"].env["ACTION_PORT"] == "5656"
    assert specs["rasa-2"].argv[specs["rasa-2"].argv.index("--port") + 1] == "5606"
    assert specs["rasa-2"].env["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:5656/webhook"
    api = specs["api"].argv
    assert api[api.index("--workers") + 1] == "2" and api[api.index("--port") + 1] == "8600"
    assert specs["api"].env["RASA_URL"] == "http://127.0.0.1:5605,http://127.0.0.1:5606"


@pytest.mark.parametrize("missing", ["database_url", "redis_url"])
def test_replicas_refuse_to_start_without_postgresql_and_redis(missing: str) -> None:
    values = {**SHARED_STATE, missing: "sqlite:///x.db" if missing == "database_url" else ""}
    with pytest.raises(ValueError, match="REPLICAS above 1 needs DATABASE_URL on PostgreSQL and REDIS_URL"):
        Settings(replicas=2, **values)


def test_every_process_gets_the_same_derived_topology(tmp_path: object) -> None:
    settings = Settings(rasa_port=5605, action_port=5655, api_port=8600)
    actions, rasa, api = service_specs(settings, PROJECT_ROOT / "models" / "m.tar.gz")
    for spec in (actions, rasa, api):
        assert spec.env["RASA_URL"] == "http://127.0.0.1:5605"
        assert spec.env["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:5655/webhook"
    assert rasa.argv[rasa.argv.index("--interface") + 1] == "127.0.0.1"
    assert rasa.argv[rasa.argv.index("--port") + 1] == "5605"
    assert "--jwt-secret" not in rasa.argv  # read from the environment inside the process (bot/serve.py)
    assert actions.argv[-2:] == ["-m", "actions.server"]


def test_rest_integrations_reach_child_processes_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    integrations = [{"name": "shop", "api_key": strong(), "webhook_url": "https://shop.example.com/cs-hook"}]
    env = settings_env(Settings(rest_integrations=integrations))
    monkeypatch.setenv("REST_INTEGRATIONS", env["REST_INTEGRATIONS"])
    child = Settings(_env_file=None)  # what a child process reads from its environment
    assert [i.model_dump(exclude_none=True) for i in child.rest_integrations or []] == integrations


def test_time_budgets_are_ordered_inside_the_message_budget() -> None:
    settings = Settings()
    busy = settings.db_busy_timeout_seconds
    assert settings.message_budget_seconds < 5.0  # WeChat's passive reply window
    assert 2 * busy + settings.rasa_timeout <= settings.message_budget_seconds
    assert settings.action_commit_deadline_seconds < settings.action_timeout < settings.rasa_timeout
    tight = Settings(message_budget_seconds=3.0, db_busy_timeout_seconds=0.5)
    assert (tight.rasa_timeout, tight.action_timeout, tight.action_commit_deadline_seconds) == (2.0, 1.5, 1.0)


@pytest.mark.parametrize("value", ["", "x", "changethis", "CHANGETHIS", "a" * 40, "short-but-random-1234"])
def test_weak_secrets_are_refused_outside_development(value: str) -> None:
    assert secret_problem(value) is not None
    with pytest.raises(ValueError, match="WIDGET_SECRET"):
        Settings(**production_settings_values(widget_secret=value))


@pytest.mark.parametrize("name", ["widget_secret", "rasa_jwt_secret", "action_server_token", "jwt_secret"])
def test_each_secret_is_checked_and_named(name: str) -> None:
    with pytest.raises(ValueError, match=name.upper()):
        Settings(**production_settings_values(**{name: "x"}))


def test_long_random_secrets_are_accepted_and_development_keeps_its_defaults() -> None:
    Settings(**production_settings_values())
    assert Settings(app_env="development").widget_secret == "changethis"


@pytest.mark.parametrize(
    "entry",
    [
        ["-c", "from core.settings import get_settings_or_exit; get_settings_or_exit()"],
        ["-m", "uvicorn", "--factory", "api.main:create_app", "--port", "1"],
        ["-m", "actions.server"],
        ["-m", "stack", "prepare"],
    ],
    ids=["settings", "api", "action-server", "launcher"],
)
def test_a_weak_secret_stops_each_process_with_one_line_naming_it(entry: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "APP_ENV": "production", "WIDGET_SECRET": "CHANGETHIS"}
    env.update(RASA_JWT_SECRET=strong(), ACTION_SERVER_TOKEN=strong(), JWT_SECRET=strong())
    env.update({name.upper(): value for name, value in REAL_WECHAT_ACCOUNT.items()})
    result = subprocess.run([sys.executable, *entry], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "WIDGET_SECRET" in line]
    assert len(errors) == 1 and errors[0].startswith("Configuration error: WIDGET_SECRET is a known default")
