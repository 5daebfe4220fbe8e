"""Training, evaluation, gated deployment and rollback end to end on the small fixture project: the API queues
jobs, real worker processes train them with `rasa train`, and models are hot-swapped on a real Rasa server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from api.main import create_app
from api.security import ServiceToken
from core.settings import PROJECT_ROOT, Settings
from crm.db import make_engine
from stack.ephemeral import free_port
from stack.model import rasa_env
from stack.paths import RASA_BIN
from stack.processes import ProcessSpec, RunningProcess, start, stop, wait_until_ready
from tests.training.conftest import PROJECT
from tests.training.overrides import ENV as OVERRIDES_ENV
from training.settings import TrainingSettings

pytestmark = [pytest.mark.e2e, pytest.mark.rasa]

JOB_TIMEOUT_SECONDS = 600.0
THANKS = "谢谢啦"
THANKS_REPLY = "不客气"

# The ops mistake the gate must catch: every "thanks" example moved under "goodbye".
WORSE_NLU = """version: "3.1"
nlu:
  - intent: greet
    examples: |
      - 你好
      - 您好
      - 你好啊
      - 哈喽
      - 早上好
      - 下午好
      - 晚上好
      - 在吗
      - 有人吗
      - 嗨
  - intent: goodbye
    examples: |
      - 再见
      - 拜拜
      - 下次见
      - 回头见
      - 谢谢
      - 多谢
      - 谢谢你
      - 非常感谢
      - 感谢
      - 太感谢了
  - intent: thanks
    examples: |
      - 先走了
      - 我走了
"""


class Stack:
    """The API (in this process) with real worker processes and one real Rasa server for the fixture project."""

    def __init__(self, client: TestClient, settings: Settings, training: TrainingSettings, workdir: Path) -> None:
        self.client = client
        self.settings = settings
        self.training = training
        self.workdir = workdir
        self.overrides = workdir / "overrides.json"
        self.token = ServiceToken(settings.rasa_jwt_secret)
        self.rasa: RunningProcess | None = None
        self._headers: dict[str, dict[str, str]] = {}

    def login(self, username: str) -> dict[str, str]:
        if username not in self._headers:
            response = self.client.post("/api/auth/login", json={"username": username, "password": "demo1234"})
            self._headers[username] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        return self._headers[username]

    def job(self, job_id: int) -> dict[str, Any]:
        response = self.client.get(f"/api/ops/training-jobs/{job_id}", headers=self.login("ops"))
        assert response.status_code == 200
        return dict(response.json())

    def wait(self, job_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            job = self.job(job_id)
            seen.append(job)
            if job["status"] in ("succeeded", "failed"):
                return job, seen
            time.sleep(0.25)
        raise AssertionError(f"job {job_id} did not finish: {seen[-1]}")

    def start_rasa(self, model: Path) -> None:
        endpoints = self.workdir / "endpoints.yml"
        endpoints.write_text("# no action server: the fixture bot only utters responses\n", encoding="utf-8")
        url = self.settings.rasa_urls[0]
        spec = ProcessSpec(
            name="rasa",
            argv=[
                str(RASA_BIN / "python"),
                "-m",
                "bot.serve",
                "run",
                "--enable-api",
                "--interface",
                "127.0.0.1",
                "--port",
                url.rsplit(":", 1)[1],
                "--model",
                str(model),
                "--endpoints",
                str(endpoints),
                "--credentials",
                str(PROJECT_ROOT / "credentials.yml"),
            ],
            health_url=f"{url}/",
            env={**rasa_env(), "RASA_JWT_SECRET": self.settings.rasa_jwt_secret},
        )
        self.rasa = start(spec, log_dir=self.training.log_dir)
        wait_until_ready(self.rasa, 300.0)

    def say(self, text: str, sender: str = "e2e") -> str:
        response = httpx.post(
            f"{self.settings.rasa_urls[0]}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            headers=self.token.headers(),
            timeout=120.0,
            trust_env=False,
        )
        response.raise_for_status()
        return "\n".join(reply.get("text", "") for reply in response.json())


@pytest.fixture
def stack(seeded_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    monkeypatch.setenv(OVERRIDES_ENV, str(tmp_path / "overrides.json"))
    settings = Settings(database_url=seeded_db_url, rasa_url=f"http://127.0.0.1:{free_port()}", app_env="development")
    training = TrainingSettings(
        project_dir=PROJECT,
        models_dir=tmp_path / "models",
        work_dir=tmp_path / "work",
        log_dir=tmp_path / "log",
        overrides_provider="tests.training.overrides:from_file",
    )
    engine = make_engine(seeded_db_url)
    app = create_app(sessionmaker(engine, expire_on_commit=False), settings)
    app.state.training_settings = training
    with TestClient(app) as client:
        stack = Stack(client, settings, training, tmp_path)
        try:
            yield stack
        finally:
            if stack.rasa is not None:
                stop(stack.rasa)
    engine.dispose()


def test_train_evaluate_deploy_gate_override_and_rollback(stack: Stack) -> None:
    ops, supervisor = stack.login("ops"), stack.login("supervisor")

    # 1. Two requests: the second waits while the first trains, and is never run at the same time.
    first = stack.client.post("/api/ops/training-jobs", headers=ops).json()
    deadline = time.monotonic() + 120
    while stack.job(first["id"])["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    second = stack.client.post("/api/ops/training-jobs", headers=ops).json()
    assert stack.job(second["id"])["status"] == "queued"
    good_job, seen = stack.wait(first["id"])
    assert good_job["status"] == "succeeded", good_job
    phases = {job["progress"]["phase"] for job in seen}
    assert {"training", "evaluating"} <= phases, phases
    assert any(job["progress"].get("epochs") for job in seen) or any(
        job["progress"].get("component") for job in seen
    ), "the page sees which component trains"
    again, _ = stack.wait(second["id"])
    assert again["status"] == "succeeded"
    assert "reused" in again["log_tail"], "the same inputs reuse the model file"
    evaluation = good_job["evaluation"]
    assert evaluation["nlu"]["macro_f1"] >= 0.8
    assert set(evaluation["nlu"]["intents"]) == {"greet", "goodbye", "thanks"}
    assert evaluation["stories"] == {"total": 1, "failed": []}
    matrix = stack.client.get(evaluation["confusion_matrix"], headers=ops)
    assert matrix.status_code == 200 and matrix.content.startswith(b"\x89PNG")
    good = good_job["model_id"]

    # 2. Deploy it to a real Rasa process (started with the same file; the deploy swaps it in place).
    stack.start_rasa(next(stack.training.models_dir.glob("model-*.tar.gz")))
    assert stack.client.post(f"/api/ops/models/{good}/deploy", headers=ops).status_code == 200
    assert THANKS_REPLY in stack.say(THANKS)

    # 3. A worse model (thanks examples moved under goodbye) is blocked by the gate.
    stack.overrides.write_text(json.dumps({"data/nlu.yml": WORSE_NLU}), encoding="utf-8")
    worse_job, _ = stack.wait(stack.client.post("/api/ops/training-jobs", headers=ops).json()["id"])
    assert worse_job["status"] == "succeeded", worse_job
    worse = worse_job["model_id"]
    assert worse_job["evaluation"]["nlu"]["macro_f1"] < evaluation["nlu"]["macro_f1"]
    blocked = stack.client.post(f"/api/ops/models/{worse}/deploy", headers=ops, json={})
    assert blocked.status_code == 409
    # rasa test core checks the dialogue with the stories' own intent labels, so an NLU mistake shows in macro-F1.
    assert [reason["code"] for reason in blocked.json()["detail"]["reasons"]] == ["macro_f1_drop"]
    refused = stack.client.post(f"/api/ops/models/{worse}/deploy", headers=ops, json={"override_reason": "试一下"})
    assert refused.status_code == 403
    assert THANKS_REPLY in stack.say(THANKS), "the blocked model never went live"

    # 4. A supervisor overrides with a reason; messages sent during the swap are all answered.
    answers: list[str | Exception] = []
    swapping = threading.Event()

    def chat_during_swap() -> None:
        index = 0
        while not swapping.is_set():
            index += 1
            try:
                answers.append(stack.say("你好", sender=f"swap-{index}"))
            except Exception as error:
                answers.append(error)

    chatter = threading.Thread(target=chat_during_swap)
    chatter.start()
    time.sleep(0.5)
    overridden = stack.client.post(
        f"/api/ops/models/{worse}/deploy", headers=supervisor, json={"override_reason": "演示：主管确认上线"}
    )
    time.sleep(0.5)
    swapping.set()
    chatter.join(timeout=180)
    assert overridden.status_code == 200, overridden.text
    assert overridden.json()["deployment"]["override_reason"] == "演示：主管确认上线"
    assert len(answers) >= 2
    assert all(isinstance(answer, str) and "您好" in answer for answer in answers), answers
    assert THANKS_REPLY not in stack.say(THANKS, sender="after-swap"), "the worse model is live now"

    # 5. Rollback restores the old behaviour.
    rolled_back = stack.client.post("/api/ops/models/rollback", headers=ops)
    assert rolled_back.status_code == 200 and rolled_back.json()["model_id"] == good
    assert THANKS_REPLY in stack.say(THANKS, sender="after-rollback")
    assert stack.client.get("/api/ops/models", headers=ops).json()["live_id"] == good

    # 6. A broken training file fails the job with the reason in plain words.
    stack.overrides.write_text(
        json.dumps({"data/nlu.yml": "version: '3.1'\nnlu:\n  - intent: greet\n   examples: |\n"})
    )
    failed, _ = stack.wait(stack.client.post("/api/ops/training-jobs", headers=ops).json()["id"])
    assert failed["status"] == "failed"
    assert "nlu.yml" in failed["error"], failed["error"]
