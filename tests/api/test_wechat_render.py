"""Rendering for WeChat: numbered choices, splitting at WeChat's byte limit, and the menu file's rules."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest

from api.channels.wechat.menu import MenuError, load_menu, menu_clicks, wechat_menu_json
from api.channels.wechat.render import MAX_TEXT_BYTES, join_for_one_reply, render_batch, split_text
from crm.schemas import MessageOut


def message(message_id: int, text: str, buttons: list[dict[str, str]] | None = None) -> MessageOut:
    return MessageOut(
        id=message_id,
        conversation_id=1,
        direction="out",
        sender="bot",
        text=text,
        payload={"buttons": buttons} if buttons else None,
        client_message_id=None,
        reply_to_id=None,
        created_at=datetime.now(timezone.utc),
    )


def test_buttons_of_a_batch_are_numbered_together() -> None:
    rendered = render_batch(
        [
            message(1, "请选择门店", [{"title": "花果园店", "payload": "/a"}, {"title": "观山湖店", "payload": "/b"}]),
            message(2, "或者", [{"title": "转人工", "payload": "/request_human"}]),
        ]
    )
    assert rendered.texts == [
        "请选择门店\n请回复数字选择：\n1. 花果园店\n2. 观山湖店",
        "或者\n请回复数字选择：\n3. 转人工",
    ]
    assert [c["payload"] for c in rendered.choices] == ["/a", "/b", "/request_human"]
    assert [message_id for message_id, _ in rendered.texts_by_message] == [1, 2]


@pytest.mark.parametrize("text", ["短", "行\n" * 1500, "长" * 5000, "a" * 2047 + "长" + "b" * 10])
def test_split_text_keeps_every_character_within_the_byte_limit(text: str) -> None:
    chunks = split_text(text)
    assert all(0 < len(chunk.encode()) <= MAX_TEXT_BYTES for chunk in chunks)
    assert "".join(chunks).replace("\n", "") == text.replace("\n", "")


def test_one_passive_reply_only_when_everything_fits() -> None:
    assert join_for_one_reply(["a", "b"]) == "a\n\nb"
    assert join_for_one_reply(["长" * 600, "长" * 600]) is None


def test_the_shipped_menu_maps_the_four_keys_to_intents() -> None:
    clicks = menu_clicks()
    assert {c.name: c.rasa_payload for c in clicks.values()} == {
        "查订单": "/order_status",
        "预约": "/book",
        "投诉": "/complain",
        "人工客服": "/request_human",
    }
    assert len(wechat_menu_json(load_menu())["button"]) <= 3


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("buttons: []", "1 to 3"),
        (
            "buttons: [{name: a, key: A, intent: x}, {name: b, key: B, intent: x}, {name: c, key: C, intent: x},"
            " {name: d, key: D, intent: x}]",
            "1 to 3",
        ),
        ("buttons: [{name: 一二三四五六, key: A, intent: x}]", "16 bytes"),
        ("buttons: [{name: a, intent: x}]", "key"),
        ("buttons: [{name: a, key: A}]", "intent"),
    ],
)
def test_menu_rules_are_checked_before_publishing(tmp_path: Path, yaml_text: str, problem: str) -> None:
    path = tmp_path / "menu.yml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(MenuError, match=problem):
        load_menu(path)
