"""The agent console in a real browser against the live system, with the customer on a second page.

Page 1 is the platinum demo customer on /chat complaining (escalated at once, highest priority); page 2 logs in
as an agent at /console/login, sees the conversation at the top of the live queue (no reload), opens it, claims
and replies; the customer's page shows the reply at once; the agent closes and the customer sees the rating
question. Markup typed by the customer shows as text in the console."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from crm.models import Customer, Escalation
from crm.services import conversation_ownership
from crm.services.accounts import DEMO_PASSWORD
from tests.e2e.conftest import LiveStack
from tests.e2e.test_chat_page import browser  # noqa: F401  (the module's Chromium fixture)
from tests.e2e.test_handoff import close_open_handoffs, desk_open_all_day  # noqa: F401  (fixtures)

COMPLAINT = "你们花果园店的服务员态度太差了，我要投诉"
MARKUP = "<script>alert(1)</script><b>加粗</b>"
REPLY = "林先生您好，我是客服李娜，非常抱歉给您带来不好的体验，马上为您处理"


@pytest.fixture
def contexts(browser: Browser, live_stack: LiveStack) -> Iterator[tuple[BrowserContext, BrowserContext]]:  # noqa: F811
    customer = browser.new_context(base_url=live_stack.api_url, locale="zh-CN")
    agent = browser.new_context(base_url=live_stack.api_url, locale="zh-CN")
    yield customer, agent
    customer.close()
    agent.close()


def queued_conversation(live_stack: LiveStack) -> int:
    """The platinum demo customer's waiting conversation."""
    with live_stack.session_factory() as session:
        return session.scalars(
            select(Escalation.conversation_id)
            .join(Customer, Customer.id == Escalation.customer_id)
            .where(Customer.web_user_id == "demo-platinum", Escalation.status == "queued")
        ).one()


def end_conversation(live_stack: LiveStack, conversation_id: int) -> None:
    """Ends the demo customer's conversation, so the next test that chats as them starts a new one."""
    with live_stack.session_factory.begin() as session:
        conversation_ownership.close_conversation(
            session, conversation_id=conversation_id, reason="idle", actor="e2e cleanup"
        )


def customer_says(page: Page, text: str) -> None:
    page.fill("#input", text)
    page.press("#input", "Enter")
    expect(page.locator("li.msg--in").last).to_have_text(text)


def test_an_agent_claims_replies_and_closes_while_the_customer_watches(
    contexts: tuple[BrowserContext, BrowserContext],
    live_stack: LiveStack,
    desk_open_all_day: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    customer_context, agent_context = contexts
    agent = agent_context.new_page()
    dialogs: list[str] = []
    agent.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    # The agent is logged in and watching the (live) queue before the customer complains.
    agent.goto("/console/login")
    agent.fill("#username", "agent.lina")
    agent.fill("#password", DEMO_PASSWORD)
    agent.click("#login-button")
    expect(agent).to_have_url(f"{live_stack.api_url}/console")
    expect(agent.locator("#whoami")).to_contain_text("李娜")
    expect(agent.locator("#live")).to_have_text("实时")

    customer = customer_context.new_page()
    customer.goto("/chat?as=demo-platinum")
    expect(customer.locator("#identity")).to_have_value("demo-platinum")
    customer_says(customer, COMPLAINT)
    expect(customer.locator("li.msg--out, li.msg--system").last).to_contain_text("正在为您转接人工客服", timeout=30_000)
    conversation_id = queued_conversation(live_stack)
    try:
        customer_says(customer, MARKUP)  # while waiting the bot is silent; the agent will see it

        # The conversation tops the live queue without a reload: platinum badge, reason, ticking wait, SLA.
        first = agent.locator("#queue li.item").first
        expect(first).to_have_attribute("data-conversation-id", str(conversation_id), timeout=15_000)
        expect(first.locator(".badge")).to_have_text("铂金")
        expect(first.locator(".sla")).to_contain_text("SLA")
        first.click()
        transcript = agent.locator("#transcript")
        expect(transcript).to_contain_text(COMPLAINT)
        expect(transcript.locator("li.from-bot").first).to_be_visible()  # the bot's part is there too
        expect(agent.locator("#escalation")).to_contain_text("complaint")
        expect(agent.locator("#card")).to_contain_text("林浩然")
        expect(agent.locator("#card")).to_contain_text("铂金")

        # The customer's markup is text, never HTML.
        markup = transcript.locator("li.from-customer .text").last
        expect(markup).to_have_text(MARKUP, timeout=15_000)
        assert transcript.locator("script, b").count() == 0

        agent.click("#claim")
        expect(agent.locator("#mine li.item")).to_have_count(1)
        expect(customer.locator("li.msg--system").last).to_contain_text("李娜", timeout=15_000)
        expect(agent.locator("#canned button").first).to_be_visible()

        agent.fill("#reply-input", REPLY)
        agent.click("#reply-send")
        expect(customer.locator("li.msg--out").last).to_contain_text(REPLY, timeout=10_000)
        expect(customer.locator("li.msg--out").last).to_contain_text("客服 李娜")
        expect(transcript.locator("li.from-agent").last).to_contain_text(REPLY)
        expect(agent.locator("#collected")).to_contain_text("林浩然", timeout=10_000)  # from the Rasa tracker
        agent.screenshot(path=str(tmp_path / "agent-console.png"), full_page=True)

        # The customer's next words reach the console live.
        customer_says(customer, "好的，谢谢")
        expect(transcript.locator("li.from-customer").last).to_contain_text("好的，谢谢", timeout=10_000)

        agent.fill("#close-summary", "已致歉，门店店长回访")
        agent.select_option("#close-outcome", "resolved")
        agent.click("#close-button")
        expect(agent.locator("#notice")).to_contain_text("会话已结束")
        expect(customer.locator("li.msg--system").last).to_contain_text("1-5", timeout=10_000)
        expect(customer.locator("li.msg--system").last.locator(".msg__buttons button")).to_have_count(5)
        expect(agent.locator("#mine li.item")).to_have_count(0)
        assert dialogs == []
    finally:
        close_open_handoffs(live_stack, conversation_id)
        end_conversation(live_stack, conversation_id)


def test_a_supervisor_sees_queues_loads_and_breaches(
    browser: Browser,  # noqa: F811
    live_stack: LiveStack,
    tmp_path: Path,
) -> None:
    context = browser.new_context(base_url=live_stack.api_url, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto("/console")  # not logged in: to the login page
        expect(page).to_have_url(f"{live_stack.api_url}/console/login")
        page.fill("#username", "supervisor")
        page.fill("#password", DEMO_PASSWORD)
        page.click("#login-button")
        expect(page).to_have_url(f"{live_stack.api_url}/console/supervisor")
        expect(page.locator("#agents tr")).to_have_count(6)
        expect(page.locator("#agents")).to_contain_text("李娜")
        expect(page.locator("#breaches-today")).to_have_text(re.compile(r"^\d+$"))
        page.screenshot(path=str(tmp_path / "supervisor.png"), full_page=True)
    finally:
        context.close()
