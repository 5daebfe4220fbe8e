"""api/static/chat.js in Node with a fake DOM, fetch and WebSocket (tests/api/js/chat_harness.js).

The Playwright tests drive a real browser where one is installed; this runs everywhere Node is, and checks the
page's own rules: each message shown once (by id, and the customer's pending message by client_message_id),
in id order, the sender labelled, text never parsed as HTML, reconnect with the last-seen id, no reconnect
after a refused identity.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")


def run_page(script: dict) -> list[dict]:
    if NODE is None:
        pytest.skip("node is not installed")
    done = subprocess.run(
        [NODE, str(ROOT / "tests/api/js/chat_harness.js"), str(ROOT / "api/static/chat.js")],
        input=json.dumps(script),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def message(id_: int, direction: str, sender: str, text: str, **extra: object) -> dict:
    return {"id": id_, "direction": direction, "sender": sender, "text": text, "buttons": [], **extra}


def test_the_page_shows_each_message_once_labels_senders_and_reconnects_from_the_last_id() -> None:
    agent_text = "<b>您好</b>，我是客服李娜"
    log = run_page(
        {
            "history": [
                message(1, "in", "customer", "你好", client_message_id="old"),
                message(2, "out", "bot", "您好，我是小悦"),
            ],
            "posts": [
                {
                    # The socket carries the stored copies before the POST answers.
                    "before_response": [
                        message(6, "in", "customer", "查订单", client_message_id="$pending"),
                        message(7, "out", "bot", "请提供订单号"),
                    ],
                    "response": {
                        "conversation_id": 1,
                        "message_id": 6,
                        "duplicate": False,
                        "replies": [message(7, "out", "bot", "请提供订单号")],
                    },
                }
            ],
            "steps": [
                {"open": True},
                {"frame": {"type": "hello", "conversation_id": 1}},
                {"frame": {"type": "message", "message": message(2, "out", "bot", "您好，我是小悦")}},
                {"frame": {"type": "message", "message": message(5, "out", "agent", agent_text, agent_name="李娜")}},
                {"frame": {"type": "message", "message": message(4, "out", "system", "客服李娜为您服务")}},
                {"type": "查订单", "snapshot": True},
                {"close": 1006},
                {"fire_timers": True},
                {"open": True},
                {"close": 4401},
            ],
        }
    )
    first_hello, posted, snapshot, dropped, reconnected, second_hello, refused = log
    assert first_hello == {
        "hello": {"type": "hello", "user_id": first_hello["hello"]["user_id"], "identity_token": None, "last_id": 2}
    }
    assert posted["posted"] == "查订单"
    assert [(m["id"], m["text"]) for m in snapshot["shown"]] == [
        (1, "你好"),
        (2, "您好，我是小悦"),
        (4, "客服李娜为您服务"),
        (5, agent_text),  # as text: the fake DOM refuses innerHTML with content
        (6, "查订单"),
        (7, "请提供订单号"),
    ]
    labels = {m["id"]: m["sender"] for m in snapshot["shown"]}
    assert (labels[1], labels[2], labels[4], labels[5]) == (None, "小悦", None, "客服 李娜")
    assert not any(m["pending"] for m in snapshot["shown"])
    assert dropped == {"timers": 1, "status": "连接中断，正在重新连接…"}
    assert reconnected == {"sockets": 2}
    assert second_hello["hello"]["last_id"] == 7
    assert refused["timers"] == 0  # 4401: a refused identity is not retried
