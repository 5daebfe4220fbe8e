"""The official account's custom menu (menu.yml): CLICK keys for the channel, and the command that publishes it.

python -m api.channels.wechat.menu publish    # POST /cgi-bin/menu/create on WECHAT_API_BASE
python -m api.channels.wechat.menu show       # the JSON that would be published
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy.orm import Session, sessionmaker

from api.channels.wechat.api_client import WeChatApiClient, WeChatApiError
from core.settings import Settings, get_settings
from crm.db import get_sessionmaker

MENU_FILE = Path(__file__).with_name("menu.yml")
# WeChat's limits: 3 top-level buttons, 5 sub-buttons each, names of 16 / 60 bytes, keys of 128 bytes.
MAX_TOP_LEVEL, MAX_SUB_BUTTONS = 3, 5
MAX_NAME_BYTES, MAX_SUB_NAME_BYTES, MAX_KEY_BYTES = 16, 60, 128


@dataclass(frozen=True)
class MenuClick:
    """What a CLICK means: the button's name goes to the transcript, the intent to the bot."""

    name: str
    intent: str

    @property
    def rasa_payload(self) -> str:
        return f"/{self.intent}"


class MenuError(ValueError):
    """menu.yml breaks one of WeChat's menu rules."""


def load_menu(path: Path = MENU_FILE) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    buttons = data.get("buttons") if isinstance(data, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_TOP_LEVEL:
        raise MenuError(f"{path}: 'buttons' must list 1 to {MAX_TOP_LEVEL} buttons")
    for button in buttons:
        _check_button(button, MAX_NAME_BYTES, allow_sub=True)
    return buttons


def _check_button(button: Any, max_name_bytes: int, *, allow_sub: bool) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("name"), str):
        raise MenuError(f"every button needs a name: {button!r}")
    if len(button["name"].encode()) > max_name_bytes:
        raise MenuError(f"button name {button['name']!r} is longer than {max_name_bytes} bytes")
    subs = button.get("sub_buttons")
    if subs is not None:
        if not allow_sub or not isinstance(subs, list) or not 1 <= len(subs) <= MAX_SUB_BUTTONS:
            raise MenuError(f"{button['name']!r}: 1 to {MAX_SUB_BUTTONS} sub_buttons, one level only")
        for sub in subs:
            _check_button(sub, MAX_SUB_NAME_BYTES, allow_sub=False)
        return
    key, intent = button.get("key"), button.get("intent")
    if not isinstance(key, str) or not key or len(key.encode()) > MAX_KEY_BYTES:
        raise MenuError(f"{button['name']!r} needs a key of at most {MAX_KEY_BYTES} bytes")
    if not isinstance(intent, str) or not intent:
        raise MenuError(f"{button['name']!r} needs the intent its CLICK stands for")


@lru_cache
def menu_clicks() -> dict[str, MenuClick]:
    """CLICK key -> what it means."""
    clicks: dict[str, MenuClick] = {}
    for button in load_menu():
        for leaf in button.get("sub_buttons") or [button]:
            clicks[leaf["key"]] = MenuClick(name=leaf["name"], intent=leaf["intent"])
    return clicks


def wechat_menu_json(buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """menu.yml in the shape /cgi-bin/menu/create expects."""

    def leaf(button: dict[str, Any]) -> dict[str, Any]:
        return {"type": "click", "name": button["name"], "key": button["key"]}

    return {
        "button": [
            {"name": button["name"], "sub_button": [leaf(sub) for sub in button["sub_buttons"]]}
            if button.get("sub_buttons")
            else leaf(button)
            for button in buttons
        ]
    }


async def publish(
    menu: dict[str, Any], settings: Settings | None = None, session_factory: sessionmaker[Session] | None = None
) -> None:
    """POSTs the menu to WECHAT_API_BASE with the account's (cached) access token."""
    settings = settings or get_settings()
    async with httpx.AsyncClient(timeout=10.0) as http:
        client = WeChatApiClient(
            http=http,
            base_url=settings.wechat_api_base,
            appid=settings.wechat_appid,
            secret=settings.wechat_secret,
            session_factory=session_factory or get_sessionmaker(),
        )
        await client.create_menu(menu)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.channels.wechat.menu", description=__doc__)
    parser.add_argument("command", choices=["publish", "show"])
    parser.add_argument("--file", type=Path, default=MENU_FILE)
    args = parser.parse_args(argv)
    try:
        menu = wechat_menu_json(load_menu(args.file))
    except MenuError as exc:
        sys.stderr.write(f"menu.yml is not valid: {exc}\n")
        return 2
    if args.command == "show":
        sys.stdout.write(json.dumps(menu, ensure_ascii=False, indent=2) + "\n")
        return 0
    try:
        asyncio.run(publish(menu))
    except (WeChatApiError, httpx.HTTPError) as exc:
        sys.stderr.write(f"Publishing the menu failed: {exc}\n")
        return 1
    sys.stdout.write(f"Published {len(menu['button'])} top-level menu buttons.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
