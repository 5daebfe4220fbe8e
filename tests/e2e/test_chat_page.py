"""The chat page in a real browser (Debian's Chromium driven by Playwright) against the live system."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.conftest import LiveStack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium keeps dialling Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)")
        pytest.skip("Chromium not installed: apt-get install chromium fonts-noto-cjk")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_stack: LiveStack) -> Iterator[Page]:
    context = browser.new_context(base_url=live_stack.api_url, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


def send(page: Page, text: str) -> None:
    replies_before = page.locator("li.msg--out, li.msg--system").count()
    page.fill("#input", text)
    page.press("#input", "Enter")
    expect(page.locator("li.msg--out, li.msg--system")).to_have_count(replies_before + 1, timeout=30_000)
    expect(page.locator("li.typing")).to_have_count(0, timeout=30_000)


def test_a_visitor_chats_on_the_page_and_the_history_survives_a_reload(page: Page, tmp_path: Path) -> None:
    page.goto("/chat")
    expect(page.locator("h1")).to_contain_text("在线客服")
    send(page, "你好")
    send(page, "你是机器人吗")
    bot_texts = page.locator("li.msg--out").all_inner_texts()
    assert any("人工" in text for text in bot_texts), bot_texts
    assert all(CJK.search(text) for text in bot_texts)
    page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)

    page.reload()
    expect(page.locator("li.msg--in")).to_have_count(2, timeout=10_000)
    expect(page.locator("li.msg--in").first).to_have_text("你好")


def test_a_demo_customer_is_greeted_by_title(page: Page) -> None:
    page.goto("/chat?as=demo-platinum")
    send(page, "你好")
    greeting = page.locator("li.msg--out").last.inner_text()
    assert "先生" in greeting or "女士" in greeting, greeting


def test_a_reply_button_sends_its_payload(page: Page) -> None:
    page.goto("/chat")
    send(page, "今天天气怎么样")
    send(page, "qwertyuiop")
    buttons = page.locator("li.msg--out .msg__buttons button")
    expect(buttons.first).to_be_visible()
    title = buttons.first.inner_text()
    replies_before = page.locator("li.msg--out, li.msg--system").count()
    buttons.first.click()
    expect(page.locator("li.msg--in").last).to_have_text(title)
    expect(page.locator("li.msg--out, li.msg--system")).to_have_count(replies_before + 1, timeout=30_000)
