"""The ops console's editing pages in a real browser (Debian's Chromium via Playwright) against the API
served by uvicorn on a seeded database (no Rasa needed: these pages only edit training data and the CRM)."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from core.settings import Settings
from crm.services import content
from crm.services.accounts import DEMO_PASSWORD
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS
from tests.fakes.review_data import add_conversation, events_table, track


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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def tracker_url(tmp_path: Path) -> str:
    """An empty tracker store (Rasa's `events` table) for the review page."""
    return events_table(tmp_path / "tracker.db")


@pytest.fixture
def api_url(seeded_sessionmaker: sessionmaker[Session], tracker_url: str) -> Iterator[str]:
    """The API app served by uvicorn in a thread, on the test's own seeded database."""
    settings = Settings(rasa_url="http://127.0.0.1:9", ops_rasa_validate=False, tracker_database_url=tracker_url)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(seeded_sessionmaker, settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _login(api_url: str, username: str = "ops") -> tuple[str, str]:
    response = httpx.post(f"{api_url}/api/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access_token"], response.json()["role"]


@pytest.fixture
def page(browser: Browser, api_url: str) -> Iterator[Page]:
    token, role = _login(api_url)
    context = browser.new_context(base_url=api_url, locale="zh-CN")
    context.add_init_script(
        f"sessionStorage.setItem('cs_staff_token', {token!r}); sessionStorage.setItem('cs_staff_role', {role!r});"
    )
    page = context.new_page()
    yield page
    context.close()


def test_pages_without_a_token_go_to_the_login_page(browser: Browser, api_url: str) -> None:
    context = browser.new_context(base_url=api_url)
    page = context.new_page()
    page.goto("/ops/intents")
    page.wait_for_url("**/console/login?next=%2Fops%2Fintents")
    context.close()


def test_landing_page_links_every_ops_page(page: Page) -> None:
    page.goto("/ops")
    nav = page.locator("#nav a")
    for label in ("意图与例句", "FAQ", "话术", "同义词/词表", "故事与规则", "对话审阅", "训练", "数据分析"):
        expect(nav.filter(has_text=label)).to_have_count(1)
    expect(page.locator("#nav a", has_text="训练")).to_have_attribute("href", "/ops/training")
    expect(page.locator("#nav a", has_text="数据分析")).to_have_attribute("href", "/ops/analytics")
    expect(page.locator("#cards a")).to_have_count(8)


def test_ops_user_adds_an_example_on_the_page(page: Page, seeded_sessionmaker: sessionmaker[Session]) -> None:
    page.goto("/ops/intents")
    page.locator("#intents li[data-intent='greet']").click()
    expect(page.locator("#intent-title")).to_contain_text("greet")
    page.fill("#new-example", "小悦在线吗我有事问")
    page.click("#add-example")
    expect(page.locator("#notice")).to_have_class("notice ok")
    expect(page.locator("#examples li[data-example='小悦在线吗我有事问']")).to_have_count(1)
    with seeded_sessionmaker() as session:
        assert "- 小悦在线吗我有事问" in content.current_overrides(session)["data/nlu/basics.yml"]

    # An example of another intent is refused with a message naming it, and nothing is added.
    page.fill("#new-example", "营业时间")
    page.click("#add-example")
    expect(page.locator("#notice")).to_have_class("notice error")
    expect(page.locator("#notice")).to_contain_text("faq/business_hours")
    expect(page.locator("#examples li[data-example='营业时间']")).to_have_count(0)


def test_faq_answer_and_document_versions_on_the_pages(page: Page) -> None:
    page.goto("/ops/faq")
    row = page.locator("#faq-rows tr[data-key='wifi']").first
    row.locator("textarea").fill("Wi-Fi 名称 YX-Guest，密码请问前台。")
    row.locator("button", has_text="保存").click()
    expect(page.locator("#notice")).to_contain_text("已保存")

    page.goto("/ops/intents")
    page.locator("#intents li[data-intent='thank']").click()
    page.fill("#new-example", "多谢小悦帮忙")
    page.click("#add-example")
    expect(page.locator("#notice")).to_have_class("notice ok")

    page.goto("/ops/documents?path=data/nlu/basics.yml")
    expect(page.locator("#version")).to_contain_text("第 1 版")
    expect(page.locator("#editor")).to_have_value(re.compile("多谢小悦帮忙"))
    page.locator("#versions tr[data-number='1'] button", has_text="差异").click()
    expect(page.locator("#diff")).to_contain_text("+      - 多谢小悦帮忙")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#versions tr[data-number='0'] button", has_text="恢复此版本").click()
    expect(page.locator("#version")).to_contain_text("第 2 版")
    expect(page.locator("#editor")).not_to_have_value(re.compile("多谢小悦帮忙"))


def test_review_page_labels_a_misunderstood_message(
    page: Page, seeded_sessionmaker: sessionmaker[Session], tracker_url: str
) -> None:
    conversation = add_conversation(
        seeded_sessionmaker, "web:page-review:a", [("customer", "座椅能不能单独洗一下"), ("bot", "抱歉，我没太明白")]
    )
    track(
        tracker_url,
        "web:page-review:a",
        [("user", "nlu_fallback", "座椅能不能单独洗一下"), ("action", "action_route_unclaimed", None)],
    )
    page.goto("/ops/review")
    page.check("#f-fallback")
    page.click("#filters button[type='submit']")
    item = page.locator(f"#conversations li[data-id='{conversation}']")
    expect(item).to_contain_text("兜底")
    item.click()
    row = page.locator("#conversation tr.msg-customer").first
    expect(row).to_contain_text("nlu_fallback")
    row.locator("select").select_option("book")
    expect(page.locator("#notice")).to_contain_text("已标注为 book")
    expect(page.locator("#conversation tr.msg-customer").first).to_contain_text("已标注 book")
    with seeded_sessionmaker() as session:
        assert "座椅能不能单独洗一下" in "".join(content.current_overrides(session).values())


@pytest.mark.parametrize(
    ("address", "lands_on"), [("/console/login", "/ops"), ("/console/login?next=/ops/faq", "/ops/faq")]
)
def test_an_ops_user_logs_in_on_the_staff_login_page_and_lands_on_the_ops_console(
    browser: Browser, api_url: str, address: str, lands_on: str
) -> None:
    context = browser.new_context(base_url=api_url, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(address)
        page.locator("#username").fill("ops")
        page.locator("#password").fill(DEMO_PASSWORD)
        page.locator("#login-button").click()
        page.wait_for_url(re.compile(re.escape(api_url + lands_on) + r"$"))
    finally:
        context.close()


def test_the_login_page_never_follows_next_to_another_site(browser: Browser, api_url: str) -> None:
    context = browser.new_context(base_url=api_url, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto("/console/login?next=//evil.example/steal")
        page.locator("#username").fill("ops")
        page.locator("#password").fill(DEMO_PASSWORD)
        page.locator("#login-button").click()
        page.wait_for_url(re.compile(re.escape(api_url) + r"/ops$"))
    finally:
        context.close()
