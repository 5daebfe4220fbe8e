"""One Settings object for every process of the app env, read from environment variables."""

from __future__ import annotations

import json
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from limits import parse_many
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"

# Development defaults of the secrets: accepted only with APP_ENV=development.
_DEV_SECRETS = {
    "widget_secret": "changethis",
    "rasa_jwt_secret": "development-only-rasa-jwt-secret-never-in-production",
    "action_server_token": "development-only-action-server-token-never-in-production",
    "jwt_secret": "development-only-agent-console-jwt-secret-never-in-production",
}
_KNOWN_WEAK_SECRETS = {"changethis", "changeme", "secret", "password", *_DEV_SECRETS.values()}
MIN_SECRET_LENGTH = 32
MIN_SECRET_DISTINCT_CHARS = 10


class InsecureSecretError(ValueError):
    """A secret that is too short, a known default or not random enough outside development."""


def secret_problem(value: str) -> str | None:
    """Why `value` is not acceptable as a production secret, or None when it is."""
    if value.strip().lower() in _KNOWN_WEAK_SECRETS:
        return "is a known default"
    if len(value) < MIN_SECRET_LENGTH:
        return f"is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(value)) < MIN_SECRET_DISTINCT_CHARS:
        return "is not random (too few distinct characters)"
    return None


class RestIntegration(BaseModel):
    """One integration of the REST channel (api/channels/rest.py): its API key and, optionally, its webhook."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    api_key: str
    # Replies are POSTed here, signed with HMAC-SHA256 (webhook_secret, or the api_key when blank).
    webhook_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/\S*)?$")
    webhook_secret: str | None = None


DEV_REST_INTEGRATION = RestIntegration(name="demo", api_key="development-only-rest-api-key-never-in-production")


class Settings(BaseSettings):
    """Configuration with sane development defaults; see .env.example."""

    model_config = SettingsConfigDict(env_file=PROJECT_ROOT / ".env", extra="ignore")

    app_env: str = "development"
    database_url: str = f"sqlite:///{VAR_DIR / 'crm.db'}"
    # Rasa's SQL tracker store runs in the rasa env (SQLAlchemy 1.4 + psycopg2); blank means "derive it".
    tracker_database_url: str | None = None
    redis_url: str | None = None

    # Topology. The internal services (Rasa, action server) listen on their *_HOST interface and are
    # reached there; the URLs are derived from host + port unless set. REPLICAS=N runs N Rasa processes
    # (RASA_PORT, RASA_PORT+1, ...) each paired with its action server (ACTION_PORT+i) and N API worker
    # processes on API_PORT; RASA_URL and ACTION_ENDPOINT_URL are then comma-separated lists, paired by
    # position (the hub spreads conversations over them, api/hub/rasa_replicas.py).
    replicas: int = Field(default=1, ge=1, le=16)
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    rasa_host: str = "127.0.0.1"
    rasa_port: int = 5005
    action_host: str = "127.0.0.1"
    action_port: int = 5055
    rasa_url: str = ""
    action_endpoint_url: str = ""

    # Time budget of one customer message (see README "Time budgets"): everything below derives from it.
    message_budget_seconds: float = 4.5
    db_busy_timeout_seconds: float = 0.75
    # Blank: derived from the budget. Tests and benchmarks may set them explicitly.
    rasa_timeout_seconds: float | None = None
    action_timeout_seconds: float | None = None

    # Secrets. WIDGET_SECRET signs web-widget identities (the embedding site vouches for a logged-in
    # user with HMAC(web_user_id)); RASA_JWT_SECRET signs the hub's calls to Rasa (REST channel and HTTP
    # API); ACTION_SERVER_TOKEN is what Rasa shows the action server. All refused outside development
    # unless long and random.
    widget_secret: str = _DEV_SECRETS["widget_secret"]
    rasa_jwt_secret: str = _DEV_SECRETS["rasa_jwt_secret"]
    action_server_token: str = _DEV_SECRETS["action_server_token"]
    # JWT_SECRET signs the agent/supervisor/ops console's access tokens.
    jwt_secret: str = _DEV_SECRETS["jwt_secret"]

    # OpenAPI docs (/docs, /openapi.json): on in development, off elsewhere unless API_DOCS=1.
    api_docs: bool | None = None

    max_message_chars: int = 2000

    # Rate limits (core/rate_limits.py; "N/period" rules separated by ";"). Messages per conversation and per
    # identified customer; failed order lookups by an unidentified visitor (a wrong number or mobile) per order
    # number and per conversation, so a mobile cannot be guessed; every look-up of the orders of a mobile alone
    # (an anonymous customer without an order number) per mobile and per conversation, so nobody can page
    # through the orders of mobiles they try.
    # Generous on purpose: a script that waits for each reply never reaches it; a flood (a stuck client, spam) does.
    message_rate_limit: str = "30/10 seconds;120/minute"
    lookup_failure_limit_per_number: str = "20/hour"
    lookup_failure_limit_per_conversation: str = "5/hour"
    mobile_lookup_limit_per_mobile: str = "5/hour"
    mobile_lookup_limit_per_conversation: str = "3/hour"

    # Conversation hub (api/hub): a bot conversation idle this long ends; the next message opens a new one.
    # Keep it equal to session_expiration_time in domain.yml's session_config.
    conversation_idle_minutes: int = Field(default=30, gt=0)
    timezone: str = "Asia/Shanghai"

    # Agent console logins (api/auth.py): HS256 secret for access tokens and how long a token lives.
    access_token_minutes: int = 480

    # --- WeChat official account (api/channels/wechat) ----------------------------------------------------
    # The development defaults are a contract (outside tools drive a fresh `make run` with them); outside
    # development an unset or default value is refused at start-up.
    WECHAT_DEVELOPMENT_DEFAULTS: ClassVar[dict[str, str]] = {
        "wechat_token": "dev-wechat-token",
        "wechat_appid": "wx0123456789abcdef",
        "wechat_secret": "dev-wechat-secret",
        "wechat_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    }
    wechat_token: str = WECHAT_DEVELOPMENT_DEFAULTS["wechat_token"]
    wechat_appid: str = WECHAT_DEVELOPMENT_DEFAULTS["wechat_appid"]
    wechat_secret: str = WECHAT_DEVELOPMENT_DEFAULTS["wechat_secret"]
    # The 43-character EncodingAESKey of safe mode (安全模式).
    wechat_aes_key: str = WECHAT_DEVELOPMENT_DEFAULTS["wechat_aes_key"]
    wechat_api_base: str = "https://api.weixin.qq.com"
    # WeChat gives up after 5 s; an answer not ready by then goes out through the customer-service API.
    wechat_passive_reply_seconds: float = 3.5

    # --- end of WeChat official account -------------------------------------------------------------------

    # Ops console editing (api/routers/ops_content.py): full-text saves of stories, rules, NLU and domain also
    # run `rasa data validate` (rasa env) on an exported copy; seconds before that run is given up.
    ops_rasa_validate: bool = True
    ops_rasa_validate_timeout_seconds: float = 120.0

    # --- Web widget and REST channel (api/channels/widget.py, api/channels/rest.py) ------------------------
    # An identity token valid for longer than this is refused even when correctly signed.
    widget_token_max_lifetime_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    # Origins of the pages allowed to embed the widget (CORS and the websocket's Origin), comma-separated;
    # "*" allows any. Blank: any localhost/127.0.0.1 port in development, none but the API's own elsewhere.
    widget_allowed_origins: str = ""
    # The REST channel's integrations, as JSON: [{"name", "api_key", "webhook_url", "webhook_secret"}].
    # Unset: in development one demo integration (DEV_REST_INTEGRATION), elsewhere none.
    rest_integrations: list[RestIntegration] | None = None
    # wechat_inbound rows (retry de-duplication) older than this are pruned by the hub's sweeper.
    wechat_inbound_retention_days: int = Field(default=30, gt=0)

    # --- end of web widget and REST channel ---------------------------------------------------------------

    @field_validator(
        "redis_url",
        "tracker_database_url",
        "rasa_timeout_seconds",
        "action_timeout_seconds",
        "api_docs",
        "rest_integrations",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _derive_topology_and_budgets(self) -> Settings:
        if not self.rasa_url:
            self.rasa_url = ",".join(f"http://{self.rasa_host}:{port}" for port in self.rasa_ports)
        if not self.action_endpoint_url:
            self.action_endpoint_url = ",".join(
                f"http://{self.action_host}:{port}/webhook" for port in self.action_ports
            )
        if len(self.action_endpoint_urls) != len(self.rasa_urls):
            raise ValueError(
                f"RASA_URL lists {len(self.rasa_urls)} Rasa server(s) but ACTION_ENDPOINT_URL lists "
                f"{len(self.action_endpoint_urls)} action server(s); each Rasa server needs its own"
            )
        if self.rasa_timeout_seconds is None:
            # The hub writes the inbound message before asking Rasa and the replies after: each write may
            # wait for the database lock, and all of it must fit in the budget.
            self.rasa_timeout_seconds = round(self.message_budget_seconds - 2 * self.db_busy_timeout_seconds, 3)
        if self.action_timeout_seconds is None:
            # Rasa must get the action's answer back early enough to predict and reply within the hub's wait.
            self.action_timeout_seconds = round(self.rasa_timeout_seconds - 0.5, 3)
        if self.api_docs is None:
            self.api_docs = self.app_env == "development"
        return self

    @model_validator(mode="after")
    def _refuse_weak_secrets_outside_development(self) -> Settings:
        if self.app_env == "development":
            return self
        for name in _DEV_SECRETS:
            problem = secret_problem(getattr(self, name))
            if problem:
                raise InsecureSecretError(
                    f"{name.upper()} {problem}; outside APP_ENV=development every secret must be at least "
                    f"{MIN_SECRET_LENGTH} random characters (secrets.token_urlsafe(32))"
                )
        return self

    @model_validator(mode="after")
    # After the general secrets, so a weak internal secret is named first.
    def _refuse_default_wechat_credentials_outside_development(self) -> Settings:
        if self.app_env != "development":
            for name, default in self.WECHAT_DEVELOPMENT_DEFAULTS.items():
                if getattr(self, name) in ("", default):
                    raise ValueError(f"{name.upper()} must be set to the official account's value outside development")
        if len(self.wechat_aes_key) != 43:
            raise ValueError("WECHAT_AES_KEY must be the 43-character EncodingAESKey")
        return self

    @field_validator(
        "message_rate_limit",
        "lookup_failure_limit_per_number",
        "lookup_failure_limit_per_conversation",
        "mobile_lookup_limit_per_mobile",
        "mobile_lookup_limit_per_conversation",
    )
    @classmethod
    def _rate_limit_rules(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f'"{value}" is not a rate limit such as "8/10 seconds;30/minute"') from exc
        return value

    @model_validator(mode="after")
    def _replicas_need_shared_state(self) -> Settings:
        """Several processes share conversations only through PostgreSQL and Redis (no state in one process)."""
        if self.replicas > 1 and not (self.redis_url and self.database_url.startswith("postgresql")):
            raise ValueError("REPLICAS above 1 needs DATABASE_URL on PostgreSQL and REDIS_URL set")
        return self

    @property
    def rasa_ports(self) -> list[int]:
        return [self.rasa_port + i for i in range(self.replicas)]

    @property
    def action_ports(self) -> list[int]:
        return [self.action_port + i for i in range(self.replicas)]

    @property
    def action_health_urls(self) -> list[str]:
        return [url.removesuffix("/webhook") + "/health" for url in self.action_endpoint_urls]

    @model_validator(mode="after")
    def _refuse_weak_rest_keys_outside_development(self) -> Settings:
        if self.rest_integrations is None:
            self.rest_integrations = [DEV_REST_INTEGRATION] if self.app_env == "development" else []
        names = [integration.name for integration in self.rest_integrations]
        if len(set(names)) != len(names):
            raise ValueError("REST_INTEGRATIONS: each integration needs a name of its own")
        if self.app_env == "development":
            return self
        for integration in self.rest_integrations:
            for label, value in (("api_key", integration.api_key), ("webhook_secret", integration.webhook_secret)):
                problem = None if value is None else secret_problem(value)
                if problem or value == DEV_REST_INTEGRATION.api_key:
                    raise InsecureSecretError(
                        f"REST_INTEGRATIONS {integration.name}.{label} {problem or 'is a known default'}; outside "
                        f"APP_ENV=development it must be at least {MIN_SECRET_LENGTH} random characters"
                    )
        return self

    @property
    def rasa_urls(self) -> list[str]:
        return [url.strip() for url in self.rasa_url.split(",") if url.strip()]

    @property
    def action_endpoint_urls(self) -> list[str]:
        return [url.strip() for url in self.action_endpoint_url.split(",") if url.strip()]

    @property
    def rasa_timeout(self) -> float:
        """How long the hub waits for Rasa (always set after validation)."""
        assert self.rasa_timeout_seconds is not None
        return self.rasa_timeout_seconds

    @property
    def action_timeout(self) -> float:
        """How long Rasa waits for the action server (always set after validation)."""
        assert self.action_timeout_seconds is not None
        return self.action_timeout_seconds

    @property
    def action_commit_deadline_seconds(self) -> float:
        """After this long since a call arrived, the action server refuses to commit (Rasa has given up)."""
        return max(self.action_timeout - 0.5, 0.5)

    @property
    def action_health_url(self) -> str:
        return self.action_endpoint_urls[0].removesuffix("/webhook") + "/health"

    @property
    def rasa_tracker_url(self) -> str:
        """PostgreSQL: the CRM database itself (table `events`); SQLite: a file of its own to avoid lock contention."""
        if self.tracker_database_url:
            return self.tracker_database_url
        if self.database_url.startswith("postgresql"):
            return re.sub(r"^postgresql(\+\w+)?://", "postgresql://", self.database_url)
        return f"sqlite:///{VAR_DIR / 'rasa_tracker.db'}"


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as environment variables a child process reads back into the same Settings: lists and
    mappings (REST_INTEGRATIONS) as JSON, which is how pydantic-settings parses them."""
    return {
        key.upper(): json.dumps(value) if isinstance(value, (list, dict)) else str(value)
        for key, value in settings.model_dump().items()
        if value is not None
    }


def _one_line(error: ValidationError) -> str:
    first = error.errors()[0]
    message = str(first.get("msg", error)).removeprefix("Value error, ")
    location = ".".join(str(part) for part in first.get("loc", ()))
    return f"{location.upper()}: {message}" if location else message


@lru_cache
def get_settings() -> Settings:
    return Settings()


def get_settings_or_exit() -> Settings:
    """get_settings() for process entry points: a configuration error is one line naming the variable."""
    try:
        return get_settings()
    except ValidationError as exc:
        sys.exit(f"Configuration error: {_one_line(exc)}")
