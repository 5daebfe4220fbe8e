"""A scripted WeChat server drives the real system through `/wechat`: two extra API processes beside the
stack's own (same database, same Rasa), their customer-service API pointed at the local fake WeChat API.

Process "passive" answers in the HTTP response when the bot is quick; process "push" has a passive window
of 10 ms, so every answer takes the slow path through the fake customer-service API.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from crm.models import Conversation, Message, WeChatInbound
from stack.ephemeral import free_port
from stack.processes import RunningProcess, service_specs, start, stop, wait_until_ready
from tests.e2e.conftest import LiveStack
from tests.fakes.wechat_api import FakeWeChatApi, running_fake_wechat_api
from tests.fakes.wechat_client import DEV_APPID, DEV_SECRET, ScriptedWeChat

READY_SECONDS = 120.0


@dataclass
class WeChatApis:
    passive: str
    push: str
    fake: FakeWeChatApi


@pytest.fixture(scope="module")
def wechat_apis(
    live_stack: LiveStack, rasa_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WeChatApis]:
    logs = tmp_path_factory.mktemp("wechat-logs")
    with running_fake_wechat_api(DEV_APPID, DEV_SECRET) as fake:
        processes: list[RunningProcess] = []
        try:
            urls = []
            for name, passive_seconds in (("wechat-passive", 3.5), ("wechat-push", 0.01)):
                settings = live_stack.settings.model_copy(
                    update={
                        "api_port": free_port(),
                        "wechat_api_base": fake.url,
                        "wechat_passive_reply_seconds": passive_seconds,
                    }
                )
                [api_spec] = [spec for spec in service_specs(settings, rasa_model) if spec.name == "api"]
                process = start(dataclasses.replace(api_spec, name=name), log_dir=logs)
                processes.append(process)
                wait_until_ready(process, READY_SECONDS)
                urls.append(f"http://127.0.0.1:{settings.api_port}")
            yield WeChatApis(passive=urls[0], push=urls[1], fake=fake)
        finally:
            for process in processes:
                stop(process)


def openid() -> str:
    return f"o-e2e-{uuid.uuid4().hex[:10]}"


def send(base_url: str, wechat: ScriptedWeChat, xml: str) -> str | None:
    """Posts like WeChat does; the passive reply's text, or None for `success`."""
    signed = wechat.request(xml)
    response = httpx.post(f"{base_url}/wechat", params=signed.params, content=signed.body, timeout=10.0)
    assert response.status_code == 200, response.text
    fields = wechat.open_reply(response.text)
    return None if fields is None else fields["Content"]


def pushed_to(fake: FakeWeChatApi, user: str, count: int, timeout_seconds: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        texts = [m.content for m in fake.sent if m.touser == user]
        if len(texts) >= count:
            return texts
        time.sleep(0.1)
    return [m.content for m in fake.sent if m.touser == user]


@pytest.mark.parametrize("safe_mode", [False, True], ids=["plain", "safe"])
def test_a_new_follower_is_welcomed_and_gets_chinese_answers(wechat_apis: WeChatApis, safe_mode: bool) -> None:
    wechat, user = ScriptedWeChat(safe_mode=safe_mode), openid()
    welcome = send(wechat_apis.passive, wechat, wechat.event(user, "subscribe"))
    assert welcome is not None and "查订单" in welcome
    answer = send(wechat_apis.passive, wechat, wechat.text(user, "你好"))
    answer = answer or pushed_to(wechat_apis.fake, user, 1)[0]  # a slow machine may need the push path
    assert "小悦" in answer or "您好" in answer


def test_menu_click_starts_the_order_lookup(wechat_apis: WeChatApis) -> None:
    wechat, user = ScriptedWeChat(safe_mode=True), openid()
    answer = send(wechat_apis.passive, wechat, wechat.event(user, "CLICK", "ORDER_STATUS"))
    answer = answer or pushed_to(wechat_apis.fake, user, 1)[0]
    assert "订单" in answer


def test_slow_path_answer_arrives_through_the_customer_service_api(wechat_apis: WeChatApis) -> None:
    wechat, user = ScriptedWeChat(safe_mode=True), openid()
    assert send(wechat_apis.push, wechat, wechat.text(user, "你们几点营业")) is None
    [answer] = pushed_to(wechat_apis.fake, user, 1)
    assert any(word in answer for word in ("营业", "门店", "时间"))


def test_three_retries_across_two_processes_give_one_answer_and_one_record(
    wechat_apis: WeChatApis, live_stack: LiveStack
) -> None:
    wechat, user = ScriptedWeChat(), openid()
    xml = wechat.text(user, "你好")
    first = send(wechat_apis.push, wechat, xml)
    retries = [send(url, wechat, xml) for url in (wechat_apis.passive, wechat_apis.push, wechat_apis.passive)]
    assert first is None and retries == [None, None, None]
    assert len(pushed_to(wechat_apis.fake, user, 1)) == 1
    time.sleep(2.0)
    assert len([m for m in wechat_apis.fake.sent if m.touser == user]) == 1
    with live_stack.session_factory() as session:
        inbound = session.scalar(
            select(func.count())
            .select_from(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Conversation.channel_user_id == user, Message.direction == "in")
        )
        claim = session.scalar(select(WeChatInbound).where(WeChatInbound.openid == user))
    assert inbound == 1
    assert claim is not None and claim.retries == 3


def test_booking_choices_can_be_answered_with_their_number(wechat_apis: WeChatApis) -> None:
    wechat, user = ScriptedWeChat(), openid()

    def ask(text: str) -> str:
        before = len([m for m in wechat_apis.fake.sent if m.touser == user])
        return (
            send(wechat_apis.passive, wechat, wechat.text(user, text))
            or pushed_to(wechat_apis.fake, user, before + 1)[-1]
        )

    stores = ask("我想预约洗车")
    assert "门店" in stores and "\n1. " in stores and "\n2. " in stores, stores
    # "洗车" already named the service: choosing store 1 by its number moves the booking on to the date.
    date_question = ask("1")
    assert "哪一天" in date_question, date_question
