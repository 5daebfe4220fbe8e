"""What a production Settings needs, for tests that build one: strong internal secrets and a real official account."""

from __future__ import annotations

import secrets

# Outside development the WeChat channel needs the account's own credentials.
REAL_WECHAT_ACCOUNT = {
    "wechat_token": "real-token",
    "wechat_appid": "wx1111111111111111",
    "wechat_secret": "real-wechat-secret",
    "wechat_aes_key": "R" * 43,
}
INTERNAL_SECRETS = ("widget_secret", "rasa_jwt_secret", "action_server_token", "jwt_secret")


def strong_secret() -> str:
    return secrets.token_urlsafe(32)


def production_settings_values(**overrides: object) -> dict[str, object]:
    """Keyword arguments for Settings(...) that pass every production check; `overrides` replace any of them."""
    values: dict[str, object] = {"app_env": "production", **REAL_WECHAT_ACCOUNT}
    values.update({name: strong_secret() for name in INTERNAL_SECRETS})
    values.update(overrides)
    return values
