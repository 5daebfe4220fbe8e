"""Chats through the API over HTTP with the real Rasa server, action server and CRM database."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from datetime import timedelta

import httpx
import websockets
from sqlalchemy import select, update

from api.main import ACTIONS_ALIVE_TTL_SECONDS
from api.security import ServiceToken
from crm.models import Conversation, Customer, FaqEntry, Message
from crm.services import conversation_ownership, pending_turns
from crm.types import utcnow
from stack.processes import start, stop, wait_until_ready
from tests.e2e.conftest import LiveStack

CJK = re.compile(r"[\u4e00-\u9fff]")


def say(api: httpx.Client, user_id: str, text: str, **extra: object) -> dict:
    response = api.post("/api/widget/messages", json={"user_id": user_id, "text": text, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def new_user() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}"


def transcript(stack: LiveStack, conversation_id: int) -> list[Message]:
    with stack.session_factory() as session:
        return list(
            session.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id))
        )


def test_first_iteration_turns_get_chinese_replies_and_are_transcribed(
    api: httpx.Client, live_stack: LiveStack
) -> None:
    user = new_user()
    greeting = say(api, user, "你好")
    challenge = say(api, user, "你是机器人吗")
    weather = say(api, user, "今天天气怎么样")

    for result in (greeting, challenge, weather):
        assert result["replies"], result
        assert all(CJK.search(reply["text"]) for reply in result["replies"])
        assert all(reply["sender"] == "bot" for reply in result["replies"])
    challenge_text = "".join(r["text"] for r in challenge["replies"])
    assert "人工" in challenge_text  # says how to reach a person
    assert "小悦" in challenge_text  # says it is the assistant
    weather_text = "".join(r["text"] for r in weather["replies"])
    assert any(topic in weather_text for topic in ("订单", "预约", "投诉"))  # says what it can do

    rows = transcript(live_stack, greeting["conversation_id"])
    inbound = [row for row in rows if row.direction == "in"]
    outbound = [row for row in rows if row.direction == "out"]
    assert [row.text for row in inbound] == ["你好", "你是机器人吗", "今天天气怎么样"]
    assert all(row.sender == "customer" for row in inbound)
    assert len(outbound) == sum(len(r["replies"]) for r in (greeting, challenge, weather))
    assert all(row.reply_to_id in {m.id for m in inbound} for row in outbound)


def test_gibberish_asks_to_rephrase_with_topic_buttons(api: httpx.Client) -> None:
    result = say(api, new_user(), "qwertyuiop")
    buttons = [button for reply in result["replies"] for button in reply["buttons"]]
    assert len(buttons) >= 3
    assert all(CJK.search(button["title"]) for button in buttons)


def test_identified_customer_is_greeted_by_title(api: httpx.Client, live_stack: LiveStack) -> None:
    with live_stack.session_factory() as session:
        customer = session.scalar(select(Customer).where(Customer.web_user_id == "demo-gold"))
    token = api.get("/api/widget/dev-identity", params={"web_user_id": "demo-gold"}).json()["identity_token"]
    result = say(api, new_user(), "你好", identity_token=token)
    text = "".join(reply["text"] for reply in result["replies"])
    assert customer.name[0] in text and ("先生" in text or "女士" in text), text
    with live_stack.session_factory() as session:
        conversation = session.get(Conversation, result["conversation_id"])
        assert conversation.customer_id == customer.id


def test_retry_with_same_client_message_id_is_answered_once(api: httpx.Client, live_stack: LiveStack) -> None:
    user, message_id = new_user(), str(uuid.uuid4())
    first = say(api, user, "你好", client_message_id=message_id)
    retry = say(api, user, "你好", client_message_id=message_id)
    assert retry["duplicate"] is True and first["duplicate"] is False
    assert [r["id"] for r in retry["replies"]] == [r["id"] for r in first["replies"]]
    rows = transcript(live_stack, first["conversation_id"])
    assert sum(1 for row in rows if row.direction == "in") == 1
    assert sum(1 for row in rows if row.direction == "out") == len(first["replies"])


def test_faq_answer_comes_from_the_crm_and_an_edit_is_live_on_the_next_message(
    api: httpx.Client, live_stack: LiveStack
) -> None:
    user = new_user()
    before = say(api, user, "你们的wifi密码是多少")
    with live_stack.session_factory() as session:
        answers = set(session.scalars(select(FaqEntry.answer_zh).where(FaqEntry.key == "wifi")))
    assert "".join(r["text"] for r in before["replies"]) in answers

    edited = "测试：全部门店Wi-Fi名称已更新为 YX-Guest，密码 88886666。"
    with live_stack.session_factory.begin() as session:
        session.execute(update(FaqEntry).where(FaqEntry.key == "wifi").values(answer_zh=edited))
    after = say(api, user, "wifi怎么连")
    assert [r["text"] for r in after["replies"]] == [edited]


def test_rasa_parse_returns_contract_names(live_stack: LiveStack) -> None:
    response = httpx.post(
        f"{live_stack.rasa_url}/model/parse",
        json={"text": "帮我查下订单DD202611200017到哪了"},
        headers=ServiceToken(live_stack.settings.rasa_jwt_secret).headers(),
        timeout=30,
    )
    parsed = response.json()
    assert parsed["intent"]["name"] == "order_status"
    assert {"entity": "order_id", "value": "DD202611200017"}.items() <= next(
        e for e in parsed["entities"] if e["entity"] == "order_id"
    ).items()


def test_bad_input_gets_clear_customer_errors(api: httpx.Client) -> None:
    too_long = api.post("/api/widget/messages", json={"user_id": new_user(), "text": "好" * 2001})
    assert too_long.status_code == 413
    assert too_long.json()["detail"]["code"] == "message_too_long"
    assert "2000" in too_long.json()["detail"]["message"]

    empty = api.post("/api/widget/messages", json={"user_id": new_user(), "text": "   "})
    assert empty.status_code == 200
    assert CJK.search(empty.json()["replies"][0]["text"])

    malformed = api.post("/api/widget/messages", content=b"{not json", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 422
    assert CJK.search(malformed.json()["detail"]["message"])


def test_rasa_down_keeps_the_message_and_the_conversation_continues_when_it_returns(
    api: httpx.Client, live_stack: LiveStack
) -> None:
    user = new_user()
    say(api, user, "你好")
    rasa = live_stack.process("rasa")
    stop(rasa)
    try:
        during = say(api, user, "你是机器人吗")
        assert [r["sender"] for r in during["replies"]] == ["system"]
        assert "系统繁忙" in during["replies"][0]["text"]
    finally:
        restarted = start(rasa.spec, log_dir=rasa.log_path.parent)
        live_stack.processes[live_stack.processes.index(rasa)] = restarted
        wait_until_ready(restarted, 300)
    after = say(api, user, "你是机器人吗")
    assert after["replies"][0]["sender"] == "bot"
    assert after["conversation_id"] == during["conversation_id"]
    rows = transcript(live_stack, during["conversation_id"])
    assert [row.text for row in rows if row.direction == "in"] == ["你好", "你是机器人吗", "你是机器人吗"]


def _has_waiting_turn(stack: LiveStack, conversation_id: int) -> bool:
    with stack.session_factory() as session:
        return pending_turns.has_waiting(session, conversation_id=conversation_id)


def test_action_server_down_gets_a_polite_busy_reply(api: httpx.Client, live_stack: LiveStack) -> None:
    user = new_user()
    actions = live_stack.process("actions")
    stop(actions)
    time.sleep(ACTIONS_ALIVE_TTL_SECONDS)  # the hub trusts its last successful probe this long
    try:
        during = say(api, user, "你好")  # action_greet needs the action server
        assert any("系统繁忙" in r["text"] for r in during["replies"]), during
    finally:
        restarted = start(actions.spec, log_dir=actions.log_path.parent)
        live_stack.processes[live_stack.processes.index(actions)] = restarted
        wait_until_ready(restarted, 120)
    # The held message is answered once the action server is back (the hub's sweep replays it). Until then a
    # new message waits behind it (held too, so the bot reads them in order): wait for that first.
    deadline = time.monotonic() + 60
    while _has_waiting_turn(live_stack, during["conversation_id"]):
        assert time.monotonic() < deadline, [row.text for row in transcript(live_stack, during["conversation_id"])]
        time.sleep(0.5)
    after = say(api, user, "你好")
    assert after["replies"] and all(r["sender"] == "bot" for r in after["replies"])


def test_after_the_idle_time_the_next_message_opens_a_new_conversation_and_the_bot_answers(
    api: httpx.Client, live_stack: LiveStack
) -> None:
    user = new_user()
    first = say(api, user, "你好")
    with live_stack.session_factory.begin() as session:
        session.execute(
            update(Conversation)
            .where(Conversation.id == first["conversation_id"])
            .values(last_message_at=utcnow() - timedelta(minutes=live_stack.settings.conversation_idle_minutes + 1))
        )
    second = say(api, user, "你是机器人吗")
    assert second["conversation_id"] != first["conversation_id"]
    assert second["replies"] and all(r["sender"] == "bot" for r in second["replies"])
    with live_stack.session_factory() as session:
        old = session.get_one(Conversation, first["conversation_id"])
        new = session.get_one(Conversation, second["conversation_id"])
    assert (old.status, old.close_reason) == ("closed", "idle")
    assert new.status == "open" and new.rasa_sender_id != old.rasa_sender_id


def test_while_the_customer_waits_in_the_queue_the_bot_is_silent_then_answers_again(
    api: httpx.Client, live_stack: LiveStack
) -> None:
    user = new_user()
    conversation_id = say(api, user, "你好")["conversation_id"]
    with live_stack.session_factory.begin() as session:
        conversation_ownership.change_owner(
            session, conversation_id=conversation_id, to_owner="queue", reason="request", actor="test"
        )
    waiting = say(api, user, "人呢？")
    assert waiting["replies"] == [] and waiting["conversation_id"] == conversation_id
    assert transcript(live_stack, conversation_id)[-1].text == "人呢？"

    with live_stack.session_factory.begin() as session:
        conversation_ownership.change_owner(
            session, conversation_id=conversation_id, to_owner="bot", reason="customer_left_queue", actor="test"
        )
    back = say(api, user, "你好")
    assert back["conversation_id"] == conversation_id
    assert back["replies"] and all(r["sender"] == "bot" for r in back["replies"])


async def test_the_bot_reply_also_arrives_on_the_pages_websocket(live_stack: LiveStack) -> None:
    user = new_user()
    ws_url = live_stack.api_url.replace("http://", "ws://") + "/api/widget/ws"
    async with websockets.connect(ws_url) as socket, httpx.AsyncClient(base_url=live_stack.api_url) as http:
        await socket.send(json.dumps({"type": "hello", "user_id": user, "last_id": 0}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 10)) == {"type": "hello", "conversation_id": None}
        response = await http.post("/api/widget/messages", json={"user_id": user, "text": "你好"}, timeout=30)
        replies = response.json()["replies"]
        frames = [json.loads(await asyncio.wait_for(socket.recv(), 10)) for _ in replies]
    assert [f["message"]["id"] for f in frames] == [r["id"] for r in replies]
