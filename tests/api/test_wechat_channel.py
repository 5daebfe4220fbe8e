"""`/wechat` in-process with the real hub and database; Rasa replaced at its HTTP edge, WeChat's API by the
local fake server (tests/fakes/wechat_api.py), and WeChat's callbacks played by tests/fakes/wechat_client.py."""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from core.settings import Settings
from crm.models import (
    Conversation,
    Customer,
    Message,
    WeChatBindingCode,
    WeChatDeliveryFailure,
    WeChatFollower,
    WeChatInbound,
)
from crm.types import utcnow
from tests.fakes.wechat_api import FakeWeChatApi, running_fake_wechat_api
from tests.fakes.wechat_client import DEV_APPID, DEV_SECRET, ScriptedWeChat

PASSIVE_SECONDS = 2.0
GOLD = "o-demo-gold"


@dataclass
class SlowRasa:
    """Rasa's REST channel at the HTTP edge; `reply` decides each answer, `delay` how long it takes."""

    reply: Callable[[dict], list[dict]] = lambda body: [{"text": f"收到：{body['message']}"}]
    delay: float = 0.0
    requests: list[dict] = field(default_factory=list)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        body = json.loads(request.content)
        self.requests.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        return httpx.Response(200, json=self.reply(body))


@dataclass
class RecordingSms:
    sent: list[tuple[str, str]] = field(default_factory=list)

    async def send(self, mobile: str, text: str) -> None:
        self.sent.append((mobile, text))


@pytest.fixture
def fake_api() -> Iterator[FakeWeChatApi]:
    with running_fake_wechat_api(DEV_APPID, DEV_SECRET) as fake:
        yield fake


@pytest.fixture
def rasa() -> SlowRasa:
    return SlowRasa()


@pytest.fixture
def sms() -> RecordingSms:
    return RecordingSms()


@pytest.fixture
def client(
    seeded_sessionmaker: sessionmaker[Session], rasa: SlowRasa, fake_api: FakeWeChatApi, sms: RecordingSms
) -> Iterator[TestClient]:
    settings = Settings(
        rasa_url="http://rasa.internal:5005",
        rasa_timeout_seconds=5.0,
        wechat_api_base=fake_api.url,
        wechat_passive_reply_seconds=PASSIVE_SECONDS,
    )
    app = create_app(seeded_sessionmaker, settings, httpx.MockTransport(rasa.handle))
    app.state.wechat_sms_sender = sms
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(params=[False, True], ids=["plain", "safe"])
def wechat(request: pytest.FixtureRequest) -> ScriptedWeChat:
    return ScriptedWeChat(safe_mode=request.param)


def post(client: TestClient, wechat: ScriptedWeChat, xml: str) -> httpx.Response:
    signed = wechat.request(xml)
    return client.post("/wechat", params=signed.params, content=signed.body)


def reply_text(wechat: ScriptedWeChat, response: httpx.Response) -> str | None:
    assert response.status_code == 200, response.text
    fields = wechat.open_reply(response.text)
    if fields is None:
        return None
    assert fields["MsgType"] == "text"
    return fields["Content"]


def count(factory: sessionmaker[Session], model: type, *where: object) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def transcript(factory: sessionmaker[Session], openid: str) -> list[tuple[str, str, str]]:
    with factory() as session:
        rows = session.execute(
            select(Message.direction, Message.sender, Message.text)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.channel == "wechat", Conversation.channel_user_id == openid)
            .order_by(Message.id)
        )
        return [tuple(row) for row in rows]


def in_thread(call: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[httpx.Response]]:
    results: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: results.append(call()))
    thread.start()
    return thread, results


def wait_until(condition: Callable[[], bool], timeout_seconds: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


# --- URL verification and refusals ----------------------------------------------------------------------


def test_url_verification_echoes_echostr_only_with_a_valid_signature(client: TestClient) -> None:
    signed = ScriptedWeChat().request(ScriptedWeChat().text("o-x", "hi"))
    params = {key: signed.params[key] for key in ("signature", "timestamp", "nonce")}
    ok = client.get("/wechat", params={**params, "echostr": "5837397520521912318"})
    assert (ok.status_code, ok.text) == (200, "5837397520521912318")
    forged = client.get("/wechat", params={**params, "nonce": "other", "echostr": "5837397520521912318"})
    assert forged.status_code == 403
    assert "5837397520521912318" not in forged.text


def test_text_message_is_answered_passively_and_stored_once_with_the_bound_customer(
    client: TestClient, wechat: ScriptedWeChat, rasa: SlowRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    response = post(client, wechat, wechat.text(GOLD, "营业时间"))
    assert reply_text(wechat, response) == "收到：营业时间"
    fields = wechat.open_reply(response.text)
    assert fields is not None
    assert (fields["ToUserName"], fields["FromUserName"]) == (GOLD, "gh_0123456789ab")
    with seeded_sessionmaker() as session:
        gold = session.scalar(select(Customer).where(Customer.wechat_openid == GOLD))
    assert rasa.requests[0]["metadata"]["customer_id"] == gold.id
    assert rasa.requests[0]["metadata"]["channel"] == "wechat"
    assert transcript(seeded_sessionmaker, GOLD) == [("in", "customer", "营业时间"), ("out", "bot", "收到：营业时间")]


@pytest.mark.parametrize("safe_mode", [False, True], ids=["plain", "safe"])
def test_invalid_signature_is_refused_and_nothing_is_stored(
    client: TestClient, rasa: SlowRasa, seeded_sessionmaker: sessionmaker[Session], safe_mode: bool
) -> None:
    wechat = ScriptedWeChat(safe_mode=safe_mode)
    messages_before = count(seeded_sessionmaker, Message)
    signed = wechat.request(wechat.text("o-forger", "退款给我"))
    key = "msg_signature" if safe_mode else "signature"
    tampered = {**signed.params, key: "0" * 40}
    assert client.post("/wechat", params=tampered, content=signed.body).status_code == 403
    unsigned = {k: v for k, v in signed.params.items() if k not in ("signature", "msg_signature")}
    assert client.post("/wechat", params=unsigned, content=signed.body).status_code == 403
    assert rasa.requests == []
    assert count(seeded_sessionmaker, Message) == messages_before
    assert transcript(seeded_sessionmaker, "o-forger") == []
    assert count(seeded_sessionmaker, WeChatInbound) == 0


def test_safe_mode_message_for_another_appid_is_refused(
    client: TestClient, rasa: SlowRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    other_account = ScriptedWeChat(safe_mode=True, appid="wxffffffffffffffff")
    response = post(client, other_account, other_account.text("o-elsewhere", "你好"))
    assert response.status_code == 403
    assert rasa.requests == [] and count(seeded_sessionmaker, WeChatInbound) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName>gh_1</ToUserName><FromUserName>o-x",  # cut off
        b"not xml at all",
        b"<xml><FromUserName>o-x</FromUserName></xml>",  # no MsgType
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">]><xml>&a;</xml>',
    ],
    ids=["truncated", "text", "incomplete", "doctype"],
)
def test_malformed_xml_is_a_400_and_nothing_is_stored(
    client: TestClient, rasa: SlowRasa, seeded_sessionmaker: sessionmaker[Session], body: bytes
) -> None:
    signed = ScriptedWeChat().request(ScriptedWeChat().text("o-x", "hi"))
    assert client.post("/wechat", params=signed.params, content=body).status_code == 400
    assert rasa.requests == [] and count(seeded_sessionmaker, WeChatInbound) == 0


def test_safe_mode_with_garbage_ciphertext_is_a_400(
    client: TestClient, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    from tests.fakes import wechat_crypto

    wechat = ScriptedWeChat(safe_mode=True)
    signed = wechat.request(wechat.text("o-x", "hi"))
    garbage = "bm90IGEgYmxvY2sgb2YgQUVT"  # valid base64, not a multiple of the AES block
    params = {
        **signed.params,
        "msg_signature": wechat_crypto.sign(wechat.token, signed.params["timestamp"], signed.params["nonce"], garbage),
    }
    body = f"<xml><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>".encode()
    assert client.post("/wechat", params=params, content=body).status_code == 400
    assert count(seeded_sessionmaker, WeChatInbound) == 0


def test_oversized_body_is_refused_and_nothing_is_stored(
    client: TestClient, rasa: SlowRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    wechat = ScriptedWeChat()
    signed = wechat.request(wechat.text("o-big", "长" * 20000))
    response = client.post("/wechat", params=signed.params, content=signed.body)
    assert response.status_code == 413
    assert rasa.requests == [] and transcript(seeded_sessionmaker, "o-big") == []


def test_text_over_the_message_limit_gets_a_polite_chinese_answer_and_is_not_stored(
    client: TestClient, wechat: ScriptedWeChat, rasa: SlowRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    answer = reply_text(wechat, post(client, wechat, wechat.text("o-long", "长" * 2001)))
    assert answer is not None and "2001" in answer and "2000" in answer
    assert rasa.requests == [] and transcript(seeded_sessionmaker, "o-long") == []


# --- retries and the 5-second rule ----------------------------------------------------------------------


def test_retries_after_a_passive_answer_get_success_and_run_nothing_again(
    client: TestClient, wechat: ScriptedWeChat, rasa: SlowRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    xml = wechat.text(GOLD, "我要预约", msg_id="900001")
    assert reply_text(wechat, post(client, wechat, xml)) == "收到：我要预约"
    for _ in range(3):
        retry = post(client, wechat, xml)
        assert (retry.status_code, retry.text) == (200, "success")
    assert len(rasa.requests) == 1
    assert transcript(seeded_sessionmaker, GOLD) == [("in", "customer", "我要预约"), ("out", "bot", "收到：我要预约")]
    with seeded_sessionmaker() as session:
        assert session.get(WeChatInbound, "msg:900001").retries == 3


def test_slow_answer_goes_out_through_the_customer_service_api_and_retries_add_nothing(
    client: TestClient,
    wechat: ScriptedWeChat,
    rasa: SlowRasa,
    fake_api: FakeWeChatApi,
    seeded_sessionmaker: sessionmaker[Session],
) -> None:
    rasa.delay = PASSIVE_SECONDS + 1.2
    xml = wechat.text(GOLD, "查一下我的订单", msg_id="900002")
    thread, first = in_thread(lambda: post(client, wechat, xml))
    wait_until(lambda: len(rasa.requests) == 1)
    during = post(client, wechat, xml)  # WeChat's retry while the first attempt is still being answered
    thread.join()
    assert first[0].text == "success" and during.text == "success"
    after = post(client, wechat, xml)  # a retry after the switch to push
    assert after.text == "success"
    sent = fake_api.wait_for_sent(1)
    assert [(m.touser, m.content) for m in sent] == [(GOLD, "收到：查一下我的订单")]
    time.sleep(PASSIVE_SECONDS)  # nothing else arrives later
    assert len(fake_api.sent) == 1 and len(rasa.requests) == 1
    assert transcript(seeded_sessionmaker, GOLD) == [
        ("in", "customer", "查一下我的订单"),
        ("out", "bot", "收到：查一下我的订单"),
    ]


def test_retry_while_the_first_attempt_would_still_answer_in_time_moves_the_answer_to_push(
    client: TestClient, wechat: ScriptedWeChat, rasa: SlowRasa, fake_api: FakeWeChatApi
) -> None:
    """The retry means WeChat stopped listening to the first connection: the answer must not go there."""
    rasa.delay = PASSIVE_SECONDS / 2
    xml = wechat.text(GOLD, "你好", msg_id="900003")
    thread, first = in_thread(lambda: post(client, wechat, xml))
    wait_until(lambda: len(rasa.requests) == 1)
    assert post(client, wechat, xml).text == "success"
    thread.join()
    assert first[0].text == "success"
    assert [m.content for m in fake_api.wait_for_sent(1)] == ["收到：你好"]
    assert len(rasa.requests) == 1


def test_a_retry_takes_over_a_message_whose_first_attempt_died(
    client: TestClient, wechat: ScriptedWeChat, rasa: SlowRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    xml = wechat.text(GOLD, "还在吗", msg_id="900004")
    with seeded_sessionmaker.begin() as session:  # an API process claimed it, then crashed
        session.add(
            WeChatInbound(
                msg_key="msg:900004",
                openid=GOLD,
                reply_mode="pending",
                retries=0,
                received_at=utcnow() - timedelta(seconds=PASSIVE_SECONDS + 6),
            )
        )
    assert reply_text(wechat, post(client, wechat, xml)) == "收到：还在吗"
    assert post(client, wechat, xml).text == "success"
    assert len(rasa.requests) == 1


def test_an_agents_reply_reaches_the_customer_through_the_delivery_port(
    client: TestClient, wechat: ScriptedWeChat, fake_api: FakeWeChatApi, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    from crm.schemas import ConversationOut, OutgoingMessage
    from crm.services import conversations

    post(client, wechat, wechat.text(GOLD, "转人工"))
    with seeded_sessionmaker.begin() as session:
        conversation = session.scalar(select(Conversation).where(Conversation.channel_user_id == GOLD))
        [agent_message] = conversations.record_outbound_messages(
            session,
            conversation_id=conversation.id,
            reply_to_id=None,
            sender="agent",
            messages=[OutgoingMessage(text="您好，我是客服小林，您的订单已为您加急。")],
        )
        view = ConversationOut.model_validate(conversation)
    assert client.portal is not None
    client.portal.call(client.app.state.wechat.delivery.deliver, view, agent_message)
    assert [(m.touser, m.content) for m in fake_api.sent] == [(GOLD, "您好，我是客服小林，您的订单已为您加急。")]


def test_token_expiring_mid_conversation_is_refreshed_once_and_the_message_still_arrives(
    client: TestClient, wechat: ScriptedWeChat, rasa: SlowRasa, fake_api: FakeWeChatApi
) -> None:
    rasa.delay = PASSIVE_SECONDS + 0.5
    assert post(client, wechat, wechat.text(GOLD, "第一句")).text == "success"
    fake_api.wait_for_sent(1)
    fake_api.expire_tokens()
    assert post(client, wechat, wechat.text(GOLD, "第二句")).text == "success"
    fake_api.wait_for_sent(2)
    fake_api.revoke_tokens()  # as when another server fetched a new token
    assert post(client, wechat, wechat.text(GOLD, "第三句")).text == "success"
    sent = fake_api.wait_for_sent(3)
    assert [m.content for m in sent] == ["收到：第一句", "收到：第二句", "收到：第三句"]
    assert fake_api.token_fetches == 3
    assert len({m.access_token for m in sent}) == 3
    assert fake_api.send_attempts == 5  # one rejected attempt per refresh, no more


def test_outside_the_48_hour_window_is_recorded_and_not_retried(
    client: TestClient,
    wechat: ScriptedWeChat,
    rasa: SlowRasa,
    fake_api: FakeWeChatApi,
    seeded_sessionmaker: sessionmaker[Session],
) -> None:
    rasa.delay = PASSIVE_SECONDS + 0.5
    fake_api.fail_next("/cgi-bin/message/custom/send", 45015)
    assert post(client, wechat, wechat.text(GOLD, "在吗")).text == "success"
    wait_until(lambda: count(seeded_sessionmaker, WeChatDeliveryFailure) == 1)
    time.sleep(0.3)
    assert fake_api.sent == [] and fake_api.send_attempts == 1
    with seeded_sessionmaker() as session:
        failure = session.scalar(select(WeChatDeliveryFailure))
        bot_reply = session.scalar(select(Message).where(Message.direction == "out"))
    assert (failure.openid, failure.errcode, failure.message_id) == (GOLD, 45015, bot_reply.id)


def test_long_answer_is_split_at_wechats_limit_and_pushed_in_order(
    client: TestClient, wechat: ScriptedWeChat, rasa: SlowRasa, fake_api: FakeWeChatApi
) -> None:
    paragraphs = [f"第{i}条：" + "门店营业时间说明。" * 40 for i in range(6)]
    rasa.reply = lambda body: [{"text": "\n".join(paragraphs)}]
    assert post(client, wechat, wechat.text(GOLD, "所有门店")).text == "success"
    wait_until(lambda: len(fake_api.sent) >= 2)
    time.sleep(0.3)
    chunks = [m.content for m in fake_api.sent]
    assert all(len(chunk.encode()) <= 2048 for chunk in chunks)
    assert "\n".join(chunks) == "\n".join(paragraphs)


# --- buttons as numbered choices ------------------------------------------------------------------------


def test_buttons_become_numbered_choices_and_the_number_sends_the_buttons_payload(
    client: TestClient, wechat: ScriptedWeChat, rasa: SlowRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    buttons = [
        {"title": "洗车保养", "payload": '/inform{"business":"car_care"}'},
        {"title": "酒店客房", "payload": '/inform{"business":"hotel"}'},
    ]
    rasa.reply = lambda body: (
        [{"text": "请问预约哪项服务？", "buttons": buttons}] if body["message"] == "我要预约" else [{"text": "好的"}]
    )
    answer = reply_text(wechat, post(client, wechat, wechat.text(GOLD, "我要预约")))
    assert answer == "请问预约哪项服务？\n请回复数字选择：\n1. 洗车保养\n2. 酒店客房"
    assert reply_text(wechat, post(client, wechat, wechat.text(GOLD, "２"))) == "好的"  # full-width digit
    assert rasa.requests[1]["message"] == '/inform{"business":"hotel"}'
    assert transcript(seeded_sessionmaker, GOLD)[2] == ("in", "customer", "酒店客房")
    # The last answer had no buttons: "1" is now just text.
    post(client, wechat, wechat.text(GOLD, "1"))
    assert rasa.requests[2]["message"] == "1"


def test_a_number_out_of_range_goes_to_the_bot_as_typed(
    client: TestClient, wechat: ScriptedWeChat, rasa: SlowRasa
) -> None:
    rasa.reply = lambda body: [{"text": "选吧", "buttons": [{"title": "是", "payload": "/affirm"}]}]
    post(client, wechat, wechat.text(GOLD, "开始"))
    post(client, wechat, wechat.text(GOLD, "7"))
    assert rasa.requests[1]["message"] == "7"


# --- events and other message types ---------------------------------------------------------------------


def test_subscribe_is_welcomed_and_unsubscribe_recorded(
    client: TestClient, wechat: ScriptedWeChat, rasa: SlowRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    welcome = reply_text(wechat, post(client, wechat, wechat.event("o-new-fan", "subscribe")))
    assert welcome is not None and "查订单" in welcome and "预约" in welcome and "人工" in welcome
    with seeded_sessionmaker() as session:
        assert session.get(WeChatFollower, "o-new-fan").subscribed is True
    assert reply_text(wechat, post(client, wechat, wechat.event("o-new-fan", "unsubscribe"))) is None
    with seeded_sessionmaker() as session:
        follower = session.get(WeChatFollower, "o-new-fan")
        assert follower.subscribed is False and follower.unsubscribed_at is not None
    assert rasa.requests == []


def test_a_retried_event_is_answered_once(client: TestClient, wechat: ScriptedWeChat) -> None:
    xml = wechat.event("o-fan-2", "subscribe")
    assert reply_text(wechat, post(client, wechat, xml)) is not None
    assert post(client, wechat, xml).text == "success"


@pytest.mark.parametrize(
    ("key", "title", "intent"),
    [
        ("ORDER_STATUS", "查订单", "/order_status"),
        ("BOOK", "预约", "/book"),
        ("COMPLAIN", "投诉", "/complain"),
        ("HUMAN", "人工客服", "/request_human"),
    ],
)
def test_menu_click_goes_to_the_bot_as_its_intent(
    client: TestClient, rasa: SlowRasa, seeded_sessionmaker: sessionmaker[Session], key: str, title: str, intent: str
) -> None:
    wechat = ScriptedWeChat()
    assert reply_text(wechat, post(client, wechat, wechat.event(GOLD, "CLICK", key))) == f"收到：{intent}"
    assert rasa.requests[0]["message"] == intent
    assert transcript(seeded_sessionmaker, GOLD)[0] == ("in", "customer", title)


@pytest.mark.parametrize("msg_type", ["image", "voice", "video", "location"])
def test_media_gets_a_polite_request_for_text(
    client: TestClient, wechat: ScriptedWeChat, rasa: SlowRasa, msg_type: str
) -> None:
    answer = reply_text(wechat, post(client, wechat, wechat.xml("o-media", msg_type, MediaId="m1", PicUrl="http://p")))
    assert answer is not None and "文字" in answer
    assert rasa.requests == []


def test_voice_with_speech_recognition_is_read_as_text(
    client: TestClient, wechat: ScriptedWeChat, rasa: SlowRasa
) -> None:
    post(client, wechat, wechat.xml(GOLD, "voice", MediaId="m1", Format="amr", Recognition="查订单"))
    assert rasa.requests[0]["message"] == "查订单"


def test_image_during_a_handoff_reaches_the_agents_transcript(
    client: TestClient, wechat: ScriptedWeChat, rasa: SlowRasa, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    post(client, wechat, wechat.text(GOLD, "转人工"))
    with seeded_sessionmaker.begin() as session:
        session.execute(update(Conversation).where(Conversation.channel_user_id == GOLD).values(owner="agent"))
    answer = reply_text(
        wechat, post(client, wechat, wechat.xml(GOLD, "image", PicUrl="http://mmbiz/p.jpg", MediaId="m"))
    )
    assert answer is not None and "人工客服" in answer
    assert transcript(seeded_sessionmaker, GOLD)[-1] == ("in", "customer", "[图片] http://mmbiz/p.jpg")
    assert len(rasa.requests) == 1


# --- openid binding -------------------------------------------------------------------------------------


def unbound_customer(factory: sessionmaker[Session]) -> Customer:
    with factory() as session:
        return session.scalars(select(Customer).where(Customer.wechat_openid.is_(None)).order_by(Customer.id)).first()


def test_customer_binds_the_openid_with_the_mobile_on_file_and_a_one_time_code(
    client: TestClient,
    wechat: ScriptedWeChat,
    rasa: SlowRasa,
    sms: RecordingSms,
    seeded_sessionmaker: sessionmaker[Session],
) -> None:
    customer = unbound_customer(seeded_sessionmaker)
    openid = "o-new-member"
    post(client, wechat, wechat.text(openid, "你好"))
    assert rasa.requests[0]["metadata"]["customer_id"] is None
    answer = reply_text(wechat, post(client, wechat, wechat.text(openid, f"绑定 {customer.mobile}")))
    assert answer is not None and customer.mobile[-4:] in answer and customer.mobile not in answer
    [(mobile, text)] = sms.sent
    code = next(word for word in text.replace("是", " ").replace("，", " ").split() if word.isdigit())
    wrong = "000000" if code != "000000" else "111111"
    assert "不正确" in (reply_text(wechat, post(client, wechat, wechat.text(openid, wrong))) or "")
    bound = reply_text(wechat, post(client, wechat, wechat.text(openid, code)))
    assert bound is not None and "绑定成功" in bound and customer.name in bound
    post(client, wechat, wechat.text(openid, "我的订单"))
    assert rasa.requests[-1]["metadata"]["customer_id"] == customer.id
    assert mobile == customer.mobile
    assert all(code not in m for r in rasa.requests for m in [r["message"]])  # codes never reach the bot


def test_unknown_mobile_gets_the_same_answer_and_no_sms(
    client: TestClient, wechat: ScriptedWeChat, sms: RecordingSms
) -> None:
    answer = reply_text(wechat, post(client, wechat, wechat.text("o-stranger", "绑定 19999999999")))
    assert answer is not None and "验证码" in answer
    assert sms.sent == []
    assert "不正确" in (reply_text(wechat, post(client, wechat, wechat.text("o-stranger", "123456"))) or "")


def test_binding_codes_expire_and_attempts_are_limited(
    client: TestClient, wechat: ScriptedWeChat, sms: RecordingSms, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    customer = unbound_customer(seeded_sessionmaker)
    post(client, wechat, wechat.text("o-guesser", f"绑定 {customer.mobile}"))
    answers = [reply_text(wechat, post(client, wechat, wechat.text("o-guesser", f"{n:06d}"))) or "" for n in range(6)]
    assert "过多" in answers[4] and "过多" in answers[5]
    post(client, wechat, wechat.text("o-late", f"绑定 {customer.mobile}"))
    with seeded_sessionmaker.begin() as session:
        session.execute(
            update(WeChatBindingCode)
            .where(WeChatBindingCode.openid == "o-late")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    code = sms.sent[-1][1].split("是")[1][:6]
    assert "过期" in (reply_text(wechat, post(client, wechat, wechat.text("o-late", code))) or "")
    with seeded_sessionmaker() as session:
        assert session.get(Customer, customer.id).wechat_openid is None


# --- the menu command -----------------------------------------------------------------------------------


def test_menu_publish_creates_the_menu_on_the_api(
    fake_api: FakeWeChatApi, seeded_sessionmaker: sessionmaker[Session]
) -> None:
    from api.channels.wechat.menu import load_menu, publish, wechat_menu_json

    settings = Settings(wechat_api_base=fake_api.url)
    asyncio.run(publish(wechat_menu_json(load_menu()), settings, seeded_sessionmaker))
    [menu] = fake_api.menus
    names = [b["name"] for b in menu["button"]] + [s["name"] for b in menu["button"] for s in b.get("sub_button", [])]
    assert {"查订单", "预约", "投诉", "人工客服"} <= set(names)


def test_menu_publish_command_runs_against_wechat_api_base(fake_api: FakeWeChatApi, seeded_db_url: str) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "WECHAT_API_BASE": fake_api.url, "DATABASE_URL": seeded_db_url, "PYTHONPATH": "."}
    done = subprocess.run(
        [sys.executable, "-m", "api.channels.wechat.menu", "publish"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "Published 3" in done.stdout
    assert len(fake_api.menus) == 1 and fake_api.token_fetches == 1
    fake_api.fail_next("/cgi-bin/menu/create", 40016)
    failed = subprocess.run(
        [sys.executable, "-m", "api.channels.wechat.menu", "publish"], env=env, capture_output=True, text=True
    )
    assert failed.returncode == 1 and "40016" in failed.stderr
    assert fake_api.token_fetches == 1  # the cached token was reused from the database


def test_default_wechat_credentials_are_refused_outside_development() -> None:
    strong = {
        name: secrets.token_urlsafe(32)
        for name in ("widget_secret", "rasa_jwt_secret", "action_server_token", "jwt_secret")
    }
    with pytest.raises(ValueError, match="WECHAT_TOKEN"):
        Settings(app_env="production", **strong)
    Settings(
        app_env="production",
        **strong,
        wechat_token="t",
        wechat_appid="wx1",
        wechat_secret="s",
        wechat_aes_key="K" * 43,
    )
