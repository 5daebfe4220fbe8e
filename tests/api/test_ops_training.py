"""The ops console's training API: jobs are queued for a worker, models deploy to every Rasa process behind the
regression gate, only a supervisor overrides it (with a reason), and rollback puts the earlier model back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from core.settings import Settings
from training import store
from training.settings import TrainingSettings

RASA_URLS = ["http://rasa-a.internal:5005", "http://rasa-b.internal:5005"]
GOOD = {"nlu": {"macro_f1": 0.95, "intents": {}}, "stories": {"total": 2, "failed": []}}
WORSE = {"nlu": {"macro_f1": 0.60, "intents": {}}, "stories": {"total": 2, "failed": ["greet then thanks"]}}


class FakeRasa:
    """Every Rasa process: records PUT /model; `fail_on` makes one process refuse."""

    def __init__(self) -> None:
        self.loads: list[tuple[str, str, str]] = []
        self.fail_on: str | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        base = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        if request.method == "PUT" and request.url.path == "/model":
            if base == self.fail_on:
                return httpx.Response(500, json={"message": "could not load"})
            body = json.loads(request.content)
            self.loads.append((base, body["model_file"], request.headers.get("authorization", "")))
            return httpx.Response(204)
        return httpx.Response(404)


class Launches:
    def __init__(self) -> None:
        self.calls: list[tuple[Settings, TrainingSettings]] = []

    def __call__(self, settings: Settings, training: TrainingSettings) -> None:
        self.calls.append((settings, training))


@pytest.fixture
def fake_rasa() -> FakeRasa:
    return FakeRasa()


@pytest.fixture
def launches() -> Launches:
    return Launches()


@pytest.fixture
def client(
    seeded_sessionmaker: sessionmaker[Session], fake_rasa: FakeRasa, launches: Launches, tmp_path: Path
) -> Iterator[TestClient]:
    settings = Settings(
        rasa_url=",".join(RASA_URLS),
        action_endpoint_url="http://actions-a.internal:5055/webhook,http://actions-b.internal:5055/webhook",
    )
    app = create_app(seeded_sessionmaker, settings, httpx.MockTransport(fake_rasa.handle))
    app.state.training_settings = TrainingSettings(models_dir=tmp_path / "models", work_dir=tmp_path / "work")
    app.state.training_launcher = launches
    with TestClient(app) as test_client:
        yield test_client


def login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": "demo1234"})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def ops(client: TestClient) -> dict[str, str]:
    return login(client, "ops")


@pytest.fixture
def supervisor(client: TestClient) -> dict[str, str]:
    return login(client, "supervisor")


def add_model(factory: sessionmaker[Session], tmp_path: Path, name: str, evaluation: dict[str, Any] | None) -> int:
    path = tmp_path / f"{name}.tar.gz"
    path.write_bytes(b"model")
    with factory.begin() as session:
        return store.record_model(session, fingerprint=name, path=str(path), job_id=None, evaluation=evaluation).id


def test_training_routes_need_an_ops_or_supervisor_login(client: TestClient) -> None:
    assert client.post("/api/ops/training-jobs").status_code == 401
    agent = login(client, "agent.chenjing")
    response = client.get("/api/ops/models", headers=agent)
    assert response.status_code == 403
    assert response.json()["detail"]["code"] == "forbidden"


def test_a_training_request_is_queued_for_a_worker_process(
    client: TestClient, ops: dict[str, str], launches: Launches
) -> None:
    first = client.post("/api/ops/training-jobs", headers=ops)
    assert first.status_code == 202
    assert {"id", "status"} <= first.json().keys() and first.json()["status"] == "queued"
    second = client.post("/api/ops/training-jobs", headers=ops).json()
    assert second["status"] == "queued" and second["queued_ahead"] == 1
    assert len(launches.calls) == 2, "each request makes sure a worker runs the queue"
    job = client.get(f"/api/ops/training-jobs/{first.json()['id']}", headers=ops).json()
    assert {"id", "status", "progress", "log_tail", "model_id", "evaluation"} <= job.keys()
    assert job["progress"]["phase"] == "queued" and job["model_id"] is None and job["evaluation"] is None
    items = client.get("/api/ops/training-jobs", headers=ops).json()["items"]
    assert [item["id"] for item in items] == [second["id"], first.json()["id"]]
    assert client.get("/api/ops/training-jobs/9999", headers=ops).status_code == 404


def test_a_worse_model_is_blocked_only_a_supervisor_overrides_and_rollback_restores(
    client: TestClient,
    ops: dict[str, str],
    supervisor: dict[str, str],
    seeded_sessionmaker: sessionmaker[Session],
    fake_rasa: FakeRasa,
    tmp_path: Path,
) -> None:
    good = add_model(seeded_sessionmaker, tmp_path, "good", GOOD)
    worse = add_model(seeded_sessionmaker, tmp_path, "worse", WORSE)

    deployed = client.post(f"/api/ops/models/{good}/deploy", headers=ops)
    assert deployed.status_code == 200, deployed.text
    assert [url for url, _, _ in fake_rasa.loads] == RASA_URLS, "every Rasa process loads the model"
    assert all(path.endswith("good.tar.gz") and auth.startswith("Bearer ") for _, path, auth in fake_rasa.loads)

    blocked = client.post(f"/api/ops/models/{worse}/deploy", headers=ops, json={})
    assert blocked.status_code == 409
    detail = blocked.json()["detail"]
    assert detail["code"] == "gate_failed" and detail["may_override"] is False
    assert {reason["code"] for reason in detail["reasons"]} == {"macro_f1_drop", "new_story_failures"}
    assert "supervisor" in detail["message"]

    refused = client.post(f"/api/ops/models/{worse}/deploy", headers=ops, json={"override_reason": "trust me"})
    assert refused.status_code == 403 and refused.json()["detail"]["code"] == "override_forbidden"
    no_reason = client.post(f"/api/ops/models/{worse}/deploy", headers=supervisor, json={"override_reason": "  "})
    assert no_reason.status_code == 409 and no_reason.json()["detail"]["may_override"] is True
    assert len(fake_rasa.loads) == 2, "nothing was loaded while the gate refused"

    overridden = client.post(
        f"/api/ops/models/{worse}/deploy", headers=supervisor, json={"override_reason": "促销活动临时上线"}
    )
    assert overridden.status_code == 200, overridden.text
    assert overridden.json()["deployment"]["override_reason"] == "促销活动临时上线"
    assert overridden.json()["deployment"]["deployed_by"] == "supervisor"
    models = client.get("/api/ops/models", headers=ops).json()
    assert models["live_id"] == worse
    assert {"id", "created_at", "live", "evaluation"} <= models["items"][0].keys()

    job_id = client.post("/api/ops/training-jobs", headers=ops).json()["id"]
    job = client.get(f"/api/ops/training-jobs/{job_id}", headers=ops).json()
    assert job["live_model_id"] == worse and job["live_evaluation"]["nlu"]["macro_f1"] == 0.60

    rolled_back = client.post("/api/ops/models/rollback", headers=ops)
    assert rolled_back.status_code == 200, rolled_back.text
    assert rolled_back.json()["model_id"] == good and rolled_back.json()["kind"] == "rollback"
    assert fake_rasa.loads[-1][1].endswith("good.tar.gz")
    assert client.get("/api/ops/models", headers=ops).json()["live_id"] == good
    # An earlier model deploys without the gate too: that is a rollback.
    again = client.post(f"/api/ops/models/{worse}/deploy", headers=ops)
    assert again.status_code == 200 and again.json()["kind"] == "rollback"
    history = client.get("/api/ops/deployments", headers=ops).json()["items"]
    assert [item["kind"] for item in history] == ["rollback", "rollback", "deploy", "deploy"]


def test_a_rasa_process_that_cannot_load_leaves_the_live_model_in_place(
    client: TestClient,
    ops: dict[str, str],
    seeded_sessionmaker: sessionmaker[Session],
    fake_rasa: FakeRasa,
    tmp_path: Path,
) -> None:
    good = add_model(seeded_sessionmaker, tmp_path, "good", GOOD)
    better = add_model(seeded_sessionmaker, tmp_path, "better", GOOD)
    assert client.post(f"/api/ops/models/{good}/deploy", headers=ops).status_code == 200
    fake_rasa.fail_on = RASA_URLS[1]
    response = client.post(f"/api/ops/models/{better}/deploy", headers=ops)
    assert response.status_code == 502
    assert response.json()["detail"]["code"] == "deploy_failed"
    assert RASA_URLS[1] in response.json()["detail"]["message"]
    assert client.get("/api/ops/models", headers=ops).json()["live_id"] == good
    assert fake_rasa.loads[-1][:2] == (RASA_URLS[0], str(tmp_path / "good.tar.gz")), (
        "the first process got the live model back"
    )


def test_deploy_refuses_unknown_models_and_rollback_without_history(client: TestClient, ops: dict[str, str]) -> None:
    assert client.post("/api/ops/models/999/deploy", headers=ops).status_code == 404
    response = client.post("/api/ops/models/rollback", headers=ops)
    assert response.status_code == 409 and response.json()["detail"]["code"] == "nothing_to_roll_back"


def test_the_confusion_matrix_is_served_to_staff_only(
    client: TestClient, ops: dict[str, str], seeded_sessionmaker: sessionmaker[Session], tmp_path: Path
) -> None:
    png = tmp_path / "matrix.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    model = add_model(seeded_sessionmaker, tmp_path, "m", {**GOOD, "confusion_matrix": str(png)})
    listed = client.get("/api/ops/models", headers=ops).json()["items"][0]
    assert listed["evaluation"]["confusion_matrix"] == f"/api/ops/models/{model}/confusion-matrix.png"
    assert str(tmp_path) not in json.dumps(listed), "no server paths in the API"
    response = client.get(f"/api/ops/models/{model}/confusion-matrix.png", headers=ops)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert client.get(f"/api/ops/models/{model}/confusion-matrix.png").status_code == 401


def test_the_training_page_is_served(client: TestClient) -> None:
    response = client.get("/ops/training")
    assert response.status_code == 200
    assert "模型训练" in response.text
