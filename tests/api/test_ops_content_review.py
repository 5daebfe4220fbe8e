"""Conversation review in the ops console: filters, one transcript with what NLU understood (from Rasa's
SQL tracker store), labelling a message as a versioned training change, saving a test story."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.main import create_app
from core.settings import Settings
from crm.services import content
from crm.services.accounts import DEMO_PASSWORD
from crm.services.content_review import REVIEWED_STORIES_PATH
from tests.fakes.review_data import add_conversation, events_table, track


@pytest.fixture
def review(
    seeded_sessionmaker: sessionmaker[Session], tmp_path: Path
) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    tracker = events_table(tmp_path / "tracker.db")
    settings = Settings(rasa_url="http://rasa.internal:5005", ops_rasa_validate=False, tracker_database_url=tracker)
    app = create_app(seeded_sessionmaker, settings, httpx.MockTransport(lambda request: httpx.Response(200, json=[])))
    with TestClient(app) as client:
        token = client.post("/api/auth/login", json={"username": "ops", "password": DEMO_PASSWORD}).json()
        yield client, {"Authorization": f"Bearer {token['access_token']}"}, tracker


def test_review_filters_opens_labels_and_saves_a_test_story(
    review: tuple[TestClient, dict[str, str], str], seeded_sessionmaker: sessionmaker[Session]
) -> None:
    client, headers, tracker = review
    wrong = add_conversation(
        seeded_sessionmaker,
        "web:review-1:a",
        [("customer", "车子漆面有划痕能补吗"), ("bot", "抱歉，我没太明白"), ("customer", "谢谢啦")],
        csat=1,
    )
    fine = add_conversation(seeded_sessionmaker, "web:review-2:b", [("customer", "你好")], csat=5)
    track(
        tracker,
        "web:review-1:a",
        [
            ("action", "action_session_start", None),
            ("user", "nlu_fallback", "车子漆面有划痕能补吗"),
            ("action", "action_route_unclaimed", None),
            ("action", "action_listen", None),
            ("user", "thank", "谢谢啦"),
            ("action", "utter_thank", None),
        ],
    )
    track(tracker, "web:review-2:b", [("user", "greet", "你好"), ("action", "action_greet", None)])

    def ids(**params: object) -> list[int]:
        response = client.get("/api/ops/conversations", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert {wrong, fine} <= set(ids())
    assert wrong in ids(fallback=True) and fine not in ids(fallback=True)
    assert fine in ids(intent="greet") and wrong not in ids(intent="greet")
    assert wrong in ids(csat_max=2) and fine not in ids(csat_max=2)
    assert wrong in ids(channel="web", **{"from": "2026-11-20", "to": "2026-11-20"})
    assert wrong not in ids(**{"from": "2026-11-21"})
    assert wrong not in ids(escalated=True)

    detail = client.get(f"/api/ops/conversations/{wrong}", headers=headers).json()
    first = detail["messages"][0]
    assert (first["sender"], first["intent"], first["labelled"]) == ("customer", "nlu_fallback", None)
    assert detail["actions"] == ["action_route_unclaimed", "utter_thank"]

    bot_message = detail["messages"][1]["id"]
    refused = client.post(
        f"/api/ops/conversations/{wrong}/messages/{bot_message}/label", json={"intent": "book"}, headers=headers
    )
    assert refused.status_code == 422 and refused.json()["detail"]["code"] == "message_not_customer"

    labelled = client.post(
        f"/api/ops/conversations/{wrong}/messages/{first['id']}/label", json={"intent": "book"}, headers=headers
    )
    assert labelled.status_code == 200, labelled.text
    assert labelled.json()["author"] == "ops"
    detail = client.get(f"/api/ops/conversations/{wrong}", headers=headers).json()
    assert detail["messages"][0]["labelled"] == "book"

    # Out of scope instead: the example moves, it is not duplicated.
    relabelled = client.post(
        f"/api/ops/conversations/{wrong}/messages/{first['id']}/label", json={"intent": "out_of_scope"}, headers=headers
    )
    assert relabelled.status_code == 200, relabelled.text
    intents = {
        item["name"]: item["examples"] for item in client.get("/api/ops/intents", headers=headers).json()["items"]
    }
    assert "车子漆面有划痕能补吗" in intents["out_of_scope"]
    assert "车子漆面有划痕能补吗" not in intents["book"]

    saved = client.post(f"/api/ops/conversations/{wrong}/test-story", json={"name": "paint scratch"}, headers=headers)
    assert saved.status_code == 201, saved.text
    assert saved.json()["path"] == REVIEWED_STORIES_PATH
    with seeded_sessionmaker() as session:
        story = yaml.safe_load(content.read(session, REVIEWED_STORIES_PATH).text)["stories"][0]
    assert story["story"] == "paint scratch"
    assert story["steps"] == [
        {"user": "车子漆面有划痕能补吗", "intent": "out_of_scope"},
        {"action": "action_route_unclaimed"},
        {"user": "谢谢啦", "intent": "thank"},
        {"action": "utter_thank"},
    ]


def test_review_without_a_tracker_store_still_lists_transcripts(seeded_sessionmaker: sessionmaker[Session]) -> None:
    settings = Settings(
        rasa_url="http://rasa.internal:5005", tracker_database_url="sqlite:////nonexistent/dir/tracker.db"
    )
    conversation = add_conversation(seeded_sessionmaker, "web:review-3:c", [("customer", "在吗")])
    app = create_app(seeded_sessionmaker, settings, httpx.MockTransport(lambda request: httpx.Response(200, json=[])))
    with TestClient(app) as client:
        token = client.post("/api/auth/login", json={"username": "supervisor", "password": DEMO_PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        items = client.get("/api/ops/conversations", headers=headers).json()["items"]
        mine = next(item for item in items if item["id"] == conversation)
        assert mine["fallback"] is None and mine["intents"] == []
        assert client.get("/api/ops/conversations/999999", headers=headers).status_code == 404
        story = client.post(f"/api/ops/conversations/{conversation}/test-story", json={"name": "x"}, headers=headers)
        assert story.status_code == 422
