"""The ops training page in a real browser: an ops user starts a training and watches its progress to the
evaluation. The API runs as a real process on the small fixture project; its worker process trains for real."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from stack.ephemeral import free_port
from stack.processes import APP_BIN, ProcessSpec, RunningProcess, start, stop, wait_until_ready
from tests.e2e.test_chat_page import CHROMIUM, CHROMIUM_ARGS
from tests.training.conftest import PROJECT

pytestmark = [pytest.mark.e2e, pytest.mark.rasa]
TRAINING_TIMEOUT_MS = 600_000


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
def api_url(seeded_db_url: str, tmp_path: Path) -> Iterator[str]:
    """The API as its own process (uvicorn), training the fixture project into tmp_path."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": seeded_db_url,
        "APP_ENV": "development",
        "API_PORT": str(port),
        "RASA_URL": f"http://127.0.0.1:{free_port()}",  # no Rasa needed to train
        "TRAINING_PROJECT_DIR": str(PROJECT),
        "TRAINING_MODELS_DIR": str(tmp_path / "models"),
        "TRAINING_WORK_DIR": str(tmp_path / "work"),
        "TRAINING_LOG_DIR": str(tmp_path / "log"),
        "TRAINING_OVERRIDES_PROVIDER": "none",  # the fixture project, not the ops edits of the real one
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    python = str(APP_BIN / "python")
    spec = ProcessSpec(
        name="api",
        argv=[python, "-m", "uvicorn", "--factory", "api.main:create_app", "--host", "127.0.0.1", "--port", str(port)],
        health_url=f"http://127.0.0.1:{port}/ops/training",
        env=env,
    )
    process: RunningProcess = start(spec, log_dir=tmp_path / "log")
    try:
        wait_until_ready(process, 120.0)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def logged_in_page(browser: Browser, api_url: str, username: str) -> Page:
    response = httpx.post(
        f"{api_url}/api/auth/login", json={"username": username, "password": "demo1234"}, trust_env=False
    )
    body = response.json()
    context = browser.new_context(base_url=api_url, locale="zh-CN")
    context.add_init_script(
        f"sessionStorage.setItem('cs_staff_token', {body['access_token']!r});"
        f"sessionStorage.setItem('cs_staff_role', {body['role']!r});"
    )
    return context.new_page()


def test_an_ops_user_watches_a_training_to_its_evaluation(browser: Browser, api_url: str) -> None:
    page = logged_in_page(browser, api_url, "ops")
    page.goto("/ops/training")
    expect(page.locator("h1")).to_have_text("模型训练与上线")
    page.click("#start")
    expect(page.locator("#notice")).to_contain_text("已提交训练任务")
    expect(page.locator("#job-status")).to_have_text("训练中", timeout=60_000)
    expect(page.locator("#job-phase")).to_contain_text("训练模型", timeout=TRAINING_TIMEOUT_MS)
    assert int(page.locator("#job-progress").get_attribute("value") or "0") >= 10
    expect(page.locator("#job-log")).to_contain_text("Starting to train component")
    expect(page.locator("#job-status")).to_have_text("已完成", timeout=TRAINING_TIMEOUT_MS)
    assert page.locator("#job-progress").get_attribute("value") == "100"
    expect(page.locator("#eval-card")).to_be_visible()
    expect(page.locator("#eval-intents tbody tr")).to_have_count(3)
    expect(page.locator("#eval-intents tr[data-intent='thanks']")).to_be_visible()
    expect(page.locator("#eval-summary")).to_contain_text("宏平均 F1")
    expect(page.locator("#eval-matrix")).to_be_visible()
    expect(page.locator("#models tbody tr")).to_have_count(1)
    page.context.close()


def test_without_a_staff_login_the_page_sends_to_the_login(browser: Browser, api_url: str) -> None:
    context = browser.new_context(base_url=api_url, locale="zh-CN")
    page = context.new_page()
    page.goto("/ops/training")
    page.wait_for_url("**/console/login?next=%2Fops%2Ftraining")
    context.close()
