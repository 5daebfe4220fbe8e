"""One Settings object for every process of the app env, read from environment variables."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
_INSECURE_SECRET = "changethis"


class Settings(BaseSettings):
    """Configuration with sane development defaults; see .env.example."""

    model_config = SettingsConfigDict(env_file=PROJECT_ROOT / ".env", extra="ignore")

    app_env: str = "development"
    database_url: str = f"sqlite:///{VAR_DIR / 'crm.db'}"
    # Rasa's SQL tracker store runs in the rasa env (SQLAlchemy 1.4 + psycopg2); blank means "derive it".
    tracker_database_url: str | None = None
    redis_url: str | None = None

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    rasa_port: int = 5005
    action_port: int = 5055
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout_seconds: float = 10.0
    # Signs web-widget identities: the embedding site vouches for a logged-in user with HMAC(web_user_id).
    widget_secret: str = _INSECURE_SECRET

    max_message_chars: int = 2000
    timezone: str = "Asia/Shanghai"

    # Agent console logins (api/auth.py): HS256 secret for access tokens (>= 32 characters outside
    # development) and how long a token lives.
    jwt_secret: str = _INSECURE_SECRET
    access_token_minutes: int = 480

    @field_validator("redis_url", "tracker_database_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> Settings:
        if self.app_env != "development" and self.widget_secret == _INSECURE_SECRET:
            raise ValueError("WIDGET_SECRET must be set to a real secret outside development")
        return self

    @model_validator(mode="after")
    def _refuse_weak_jwt_secret_outside_development(self) -> Settings:
        if self.app_env != "development" and (self.jwt_secret == _INSECURE_SECRET or len(self.jwt_secret) < 32):
            raise ValueError("JWT_SECRET must be set to a random secret of at least 32 characters outside development")
        return self

    @property
    def action_endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}/webhook"

    @property
    def action_health_url(self) -> str:
        return self.action_endpoint_url.removesuffix("/webhook") + "/health"

    @property
    def rasa_tracker_url(self) -> str:
        """PostgreSQL: the CRM database itself (table `events`); SQLite: a file of its own to avoid lock contention."""
        if self.tracker_database_url:
            return self.tracker_database_url
        if self.database_url.startswith("postgresql"):
            return re.sub(r"^postgresql(\+\w+)?://", "postgresql://", self.database_url)
        return f"sqlite:///{VAR_DIR / 'rasa_tracker.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
