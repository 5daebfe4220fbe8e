"""The ops console's editing API on a seeded database: every edit path, every refusal, versions, diff,
restore, optimistic locking, an FAQ answer edit live for the next message, two app instances on one DB."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from actions.faq import ActionAnswerFaq
from api.main import create_app
from core.settings import Settings
from crm.db import make_engine
from crm.models import ContentVersion, FaqEntry
from crm.services import content
from crm.services.accounts import DEMO_PASSWORD
from crm.services.escalation_rules import load_escalation_rules

NLU_BASICS = "data/nlu/basics.yml"
STORIES = "data/stories/basics.yml"


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"rasa_url": "http://rasa.internal:5005", "ops_rasa_validate": False, **overrides}
    return Settings(**values)


def _app(factory: sessionmaker[Session], **settings: Any) -> TestClient:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=[]))
    return TestClient(create_app(factory, _settings(**settings), transport))


@dataclass
class Ops:
    client: TestClient
    factory: sessionmaker[Session]
    headers: dict[str, str]

    def get(self, url: str, **params: Any) -> httpx.Response:
        return self.client.get(url, params=params, headers=self.headers)

    def post(self, url: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(url, json=body, headers=self.headers)

    def put(self, url: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.put(url, json=body, headers=self.headers)

    def patch(self, url: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.patch(url, json=body, headers=self.headers)

    def examples(self, intent: str) -> list[str]:
        items = {item["name"]: item["examples"] for item in self.get("/api/ops/intents").json()["items"]}
        return items[intent]

    def document(self, path: str) -> dict[str, Any]:
        response = self.get("/api/ops/document", path=path)
        assert response.status_code == 200, response.text
        return response.json()

    def version_count(self) -> int:
        with self.factory() as session:
            return len(session.scalars(select(ContentVersion.id)).all())


def login(client: TestClient, username: str = "ops") -> dict[str, str]:
    response = client.post("/api/auth/login", json={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def ops(seeded_sessionmaker: sessionmaker[Session]) -> Iterator[Ops]:
    with _app(seeded_sessionmaker) as client:
        yield Ops(client, seeded_sessionmaker, login(client))


def assert_refusal(response: httpx.Response, status: int, code: str, *mentions: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body == {"detail": {"code": code, "message": body["detail"]["message"]}}
    for mention in mentions:
        assert mention in body["detail"]["message"]


# ---- access ------------------------------------------------------------------------------------------


def test_editing_needs_an_ops_or_supervisor_token(ops: Ops) -> None:
    assert ops.client.get("/api/ops/intents").status_code == 401
    agent = login(ops.client, "agent.chenjing")
    assert ops.client.get("/api/ops/intents", headers=agent).status_code == 403
    supervisor = login(ops.client, "supervisor")
    assert ops.client.get("/api/ops/intents", headers=supervisor).status_code == 200


# ---- intents and examples ------------------------------------------------------------------------------


def test_intents_list_every_intent_with_its_examples(ops: Ops) -> None:
    response = ops.get("/api/ops/intents")
    assert response.status_code == 200
    items = {item["name"]: item for item in response.json()["items"]}
    assert set(items["greet"]) == {"name", "examples"}
    assert "营业时间" in items["faq/business_hours"]["examples"]
    assert len(items["greet"]["examples"]) > 5


def test_add_example_is_a_new_version_and_an_override_for_training(ops: Ops) -> None:
    response = ops.post("/api/ops/intents/greet/examples", {"text": "哈喽小悦在不在呀"})
    assert response.status_code == 201, response.text
    version = response.json()["version"]
    assert (version["path"], version["number"], version["base_number"], version["author"]) == (NLU_BASICS, 1, 0, "ops")
    assert "+      - 哈喽小悦在不在呀" in version["diff"]
    assert "哈喽小悦在不在呀" in ops.examples("greet")
    with ops.factory() as session:
        overrides = content.current_overrides(session)
    assert list(overrides) == [NLU_BASICS]
    greet = next(block for block in yaml.safe_load(overrides[NLU_BASICS])["nlu"] if block.get("intent") == "greet")
    assert "- 哈喽小悦在不在呀" in greet["examples"]
    # Only the one line changed: comments and layout of the file are kept.
    repository = content.repository_text(NLU_BASICS)
    assert overrides[NLU_BASICS].count("\n") == repository.count("\n") + 1


def test_add_example_to_a_retrieval_intent(ops: Ops) -> None:
    response = ops.post("/api/ops/intents/faq/wifi/examples", {"text": "店里的无线网叫什么名字"})
    assert response.status_code == 201, response.text
    assert response.json()["version"]["path"] == "data/nlu/faq.yml"
    assert "店里的无线网叫什么名字" in ops.examples("faq/wifi")


def test_example_already_under_another_intent_is_refused_naming_it(ops: Ops) -> None:
    taken = ops.examples("faq/business_hours")[0]
    response = ops.post("/api/ops/intents/greet/examples", {"text": f" {taken} "})
    assert_refusal(response, 422, "example_in_other_intent", taken, "faq/business_hours")
    assert ops.version_count() == 0


def test_example_already_under_the_same_intent_is_refused(ops: Ops) -> None:
    taken = ops.examples("greet")[0]
    assert_refusal(ops.post("/api/ops/intents/greet/examples", {"text": taken}), 422, "duplicate_example", "greet")


def test_blank_example_and_unknown_intent_are_refused(ops: Ops) -> None:
    assert_refusal(ops.post("/api/ops/intents/greet/examples", {"text": "  "}), 422, "empty_example")
    assert_refusal(ops.post("/api/ops/intents/greet/examples", {}), 422, "empty_example")
    assert_refusal(ops.post("/api/ops/intents/greet/examples", {"text": "好\n你好"}), 422, "empty_example")
    assert_refusal(ops.post("/api/ops/intents/greet/examples", {"text": "好" * 501}), 422, "example_too_long", "501")
    assert_refusal(ops.post("/api/ops/intents/no_such_intent/examples", {"text": "随便"}), 404, "unknown_intent")
    assert ops.version_count() == 0


def test_faq_key_without_an_answer_is_refused_until_it_has_one(ops: Ops) -> None:
    response = ops.post("/api/ops/intents/faq/pets/examples", {"text": "可以带宠物进店吗"})
    assert_refusal(response, 422, "faq_without_answer", "pets")
    created = ops.post(
        "/api/ops/faq", {"key": "pets", "question": "可以带宠物吗？", "answer": "导盲犬可以进店，其他宠物暂不能。"}
    )
    assert created.status_code == 201, created.text
    assert ops.examples("faq/pets") == []  # listed at once, ready for its questions
    response = ops.post("/api/ops/intents/faq/pets/examples", {"text": "可以带宠物进店吗"})
    assert response.status_code == 201, response.text
    assert response.json()["version"]["path"] == "data/nlu/ops.yml"
    assert ops.examples("faq/pets") == ["可以带宠物进店吗"]


def test_edit_delete_and_move_an_example(ops: Ops) -> None:
    old = ops.examples("thank")[0]
    response = ops.patch("/api/ops/intents/thank/examples", {"example": old, "text": "太感谢小悦了"})
    assert response.status_code == 200, response.text
    thanks = ops.examples("thank")
    assert "太感谢小悦了" in thanks and old not in thanks

    response = ops.client.delete(
        "/api/ops/intents/thank/examples", params={"text": "太感谢小悦了"}, headers=ops.headers
    )
    assert response.status_code == 200, response.text
    assert "太感谢小悦了" not in ops.examples("thank")
    missing = ops.client.delete("/api/ops/intents/thank/examples", params={"text": "太感谢小悦了"}, headers=ops.headers)
    assert_refusal(missing, 404, "example_not_found")

    moved = ops.examples("greet")[-1]
    response = ops.post("/api/ops/intents/greet/examples/move", {"text": moved, "to": "bot_challenge"})
    assert response.status_code == 200, response.text
    assert moved not in ops.examples("greet")
    assert moved in ops.examples("bot_challenge")


def test_edit_to_an_example_of_another_intent_is_refused(ops: Ops) -> None:
    old, taken = ops.examples("thank")[0], ops.examples("goodbye")[0]
    response = ops.patch("/api/ops/intents/thank/examples", {"example": old, "text": taken})
    assert_refusal(response, 422, "example_in_other_intent", "goodbye")


def test_search_examples(ops: Ops) -> None:
    response = ops.get("/api/ops/examples", q="营业")
    assert response.status_code == 200
    hits = response.json()["items"]
    assert hits and all("营业" in hit["example"] or "营业" in hit["intent"] for hit in hits)
    assert {"faq/business_hours"} <= {hit["intent"] for hit in hits}


# ---- full-text documents: validation, locking, versions, restore ----------------------------------------


def test_story_with_an_unknown_action_is_refused_and_nothing_is_written(ops: Ops) -> None:
    document = ops.document(STORIES)
    broken = document["text"] + (
        "\n  - story: uses an action nobody wrote\n    steps:\n"
        "      - intent: greet\n      - action: action_fly_to_mars\n"
    )
    response = ops.put("/api/ops/document", {"path": STORIES, "text": broken, "base_version": 0})
    assert_refusal(response, 422, "unknown_action", "action_fly_to_mars", STORIES)
    assert ops.document(STORIES)["version"] == 0
    assert ops.version_count() == 0


@pytest.mark.parametrize(
    ("step", "code"),
    [("      - intent: teleport\n", "unknown_step_intent"), ("      - active_loop: flying_form\n", "unknown_form")],
)
def test_story_with_an_unknown_intent_or_form_is_refused(ops: Ops, step: str, code: str) -> None:
    text = ops.document(STORIES)["text"] + "\n  - story: broken\n    steps:\n" + step
    assert_refusal(ops.put("/api/ops/document", {"path": STORIES, "text": text, "base_version": 0}), 422, code)


def test_yaml_syntax_error_points_at_the_line(ops: Ops) -> None:
    broken = "stories:\n  - story: [unclosed\n"
    response = ops.put("/api/ops/document", {"path": STORIES, "text": broken, "base_version": 0})
    assert_refusal(response, 422, "invalid_yaml", STORIES, "行")


def test_only_training_documents_are_editable(ops: Ops) -> None:
    for path in ("../etc/passwd", "core/settings.py", "credentials.yml"):
        assert_refusal(ops.get("/api/ops/document", path=path), 404, "not_editable")


def test_escalation_rules_are_edited_live_and_a_broken_edit_is_refused_with_its_line(
    ops: Ops, monkeypatch: pytest.MonkeyPatch
) -> None:
    """policy/escalation.yml edited on the YAML page: live in this process (and every other, within
    crm.policy.EDIT_CHECK_SECONDS) without a restart; a broken rule is refused naming file and line."""
    monkeypatch.setattr("crm.policy.EDIT_CHECK_SECONDS", 0.0)
    path = "policy/escalation.yml"
    assert load_escalation_rules().tiers["platinum"].first_response_seconds == 30
    current = ops.document(path)
    broken = current["text"].replace("first_response_seconds: 30", "first_response_seconds: -5", 1)
    refused = ops.put("/api/ops/document", {"path": path, "text": broken, "base_version": 0})
    assert_refusal(refused, 422, "invalid_policy")
    assert (
        "escalation.yml:" in refused.json()["detail"]["message"]
        and "first_response_seconds" in refused.json()["detail"]["message"]
    )
    assert load_escalation_rules().tiers["platinum"].first_response_seconds == 30  # nothing invalid was stored

    faster = current["text"].replace("first_response_seconds: 30", "first_response_seconds: 20", 1)
    saved = ops.put("/api/ops/document", {"path": path, "text": faster, "base_version": 0})
    assert saved.status_code == 200, saved.text
    assert load_escalation_rules().tiers["platinum"].first_response_seconds == 20
    assert path not in content_overrides(ops)  # live policy is not a training input


def content_overrides(ops: Ops) -> dict[str, str]:
    with ops.factory() as session:
        return content.current_overrides(session)


def test_stale_base_version_is_refused_with_what_changed(ops: Ops) -> None:
    first = ops.document(STORIES)
    mine = first["text"] + "\n  - story: mine\n    steps:\n      - intent: greet\n      - action: action_greet\n"
    theirs = first["text"] + "\n  - story: theirs\n    steps:\n      - intent: thank\n      - action: utter_thank\n"
    assert ops.put("/api/ops/document", {"path": STORIES, "text": theirs, "base_version": 0}).status_code == 200
    response = ops.put("/api/ops/document", {"path": STORIES, "text": mine, "base_version": 0})
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert detail["code"] == "stale_version"
    assert detail["current_version"] == 1
    assert "+  - story: theirs" in detail["changes"]
    assert "story: mine" not in ops.document(STORIES)["text"]


def test_versions_diff_and_restore(ops: Ops) -> None:
    assert ops.post("/api/ops/intents/greet/examples", {"text": "小悦早上好呀"}).status_code == 201
    assert ops.post("/api/ops/intents/greet/examples", {"text": "小悦晚上好呀"}).status_code == 201
    versions = ops.get("/api/ops/document/versions", path=NLU_BASICS).json()
    assert versions["current"] == 2
    assert [item["number"] for item in versions["items"]] == [2, 1]
    assert all(item["author"] == "ops" and item["created_at"] for item in versions["items"])

    diff = ops.get("/api/ops/document/diff", path=NLU_BASICS, **{"from": 0, "to": 2}).json()["diff"]
    assert "+      - 小悦早上好呀" in diff and "+      - 小悦晚上好呀" in diff

    stale = ops.post("/api/ops/document/restore", {"path": NLU_BASICS, "version": 0, "base_version": 1})
    assert stale.status_code == 409
    restored = ops.post("/api/ops/document/restore", {"path": NLU_BASICS, "version": 0, "base_version": 2})
    assert restored.status_code == 200, restored.text
    assert restored.json()["number"] == 3
    assert ops.document(NLU_BASICS)["text"] == content.repository_text(NLU_BASICS)
    assert "小悦早上好呀" not in ops.examples("greet")
    again = ops.post("/api/ops/document/restore", {"path": NLU_BASICS, "version": 1, "base_version": 3})
    assert again.status_code == 200
    greet = ops.examples("greet")
    assert "小悦早上好呀" in greet and "小悦晚上好呀" not in greet
    missing = ops.post("/api/ops/document/restore", {"path": NLU_BASICS, "version": 42, "base_version": 4})
    assert_refusal(missing, 404, "version_not_found")


def test_documents_list_their_current_version(ops: Ops) -> None:
    assert ops.post("/api/ops/intents/greet/examples", {"text": "小悦中午好"}).status_code == 201
    items = {item["path"]: item["version"] for item in ops.get("/api/ops/documents").json()["items"]}
    assert items[NLU_BASICS] == 1
    assert items["domain.yml"] == 0


# ---- wording, synonyms, lookups --------------------------------------------------------------------------


def test_wording_catalog_lists_texts_with_their_variables(ops: Ops) -> None:
    body = ops.get("/api/ops/wording").json()
    items = {item["name"]: item for item in body["items"]}
    assert body["version"] == 0
    with_variables = [item for item in items.values() if item["variables"]]
    assert with_variables
    assert all(set(item["used"]) <= set(item["variables"]) for item in with_variables)
    assert items["utter_goodbye"]["texts"]


def test_wording_edit_with_a_known_variable_and_refusal_of_an_unknown_one(ops: Ops) -> None:
    items = ops.get("/api/ops/wording").json()["items"]
    target = next(item for item in items if item["variables"] and item["texts"][0])
    variable = target["variables"][0]
    response = ops.put(
        f"/api/ops/wording/{target['name']}/0", {"text": f"好的，已为您记下：{{{variable}}}。", "base_version": 0}
    )
    assert response.status_code == 200, response.text
    items = {item["name"]: item for item in ops.get("/api/ops/wording").json()["items"]}
    assert items[target["name"]]["texts"][0] == f"好的，已为您记下：{{{variable}}}。"

    response = ops.put(f"/api/ops/wording/{target['name']}/0", {"text": "您好 {no_such_variable}"})
    assert_refusal(response, 422, "unknown_variable", "no_such_variable", target["name"])
    stale = ops.put(f"/api/ops/wording/{target['name']}/0", {"text": "您好", "base_version": 0})
    assert stale.status_code == 409
    assert_refusal(ops.put("/api/ops/wording/utter_nothing/0", {"text": "您好"}), 404, "unknown_response")


def test_domain_edit_keeps_the_rest_of_the_file(ops: Ops) -> None:
    response = ops.put("/api/ops/wording/utter_goodbye/0", {"text": "再见，祝您生活愉快！"})
    assert response.status_code == 200, response.text
    diff = response.json()["diff"]
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert len(changed) == 2


def test_synonyms_and_lookups(ops: Ops) -> None:
    synonyms = {item["name"]: item for item in ops.get("/api/ops/synonyms").json()["items"]}
    assert "car_care" in synonyms
    entries = [*synonyms["car_care"]["entries"], "洗车铺"]
    response = ops.put("/api/ops/synonyms/car_care", {"entries": entries})
    assert response.status_code == 200, response.text
    synonyms = {item["name"]: item for item in ops.get("/api/ops/synonyms").json()["items"]}
    assert "洗车铺" in synonyms["car_care"]["entries"]

    taken = synonyms["hotel"]["entries"][0]
    assert_refusal(ops.put("/api/ops/synonyms/car_care", {"entries": [taken]}), 422, "duplicate_synonym", "hotel")

    lookups = {item["name"]: item for item in ops.get("/api/ops/lookups").json()["items"]}
    entries = [*lookups["service"]["entries"], "漆面修复"]
    assert ops.put("/api/ops/lookups/service", {"entries": entries}).status_code == 200
    lookups = {item["name"]: item for item in ops.get("/api/ops/lookups").json()["items"]}
    assert "漆面修复" in lookups["service"]["entries"]


def test_crm_store_and_service_names_missing_from_the_lookups(ops: Ops) -> None:
    missing = ops.get("/api/ops/lookups/crm").json()
    assert missing["store"], "the seeded stores are in no lookup table yet"
    response = ops.put("/api/ops/lookups/store", {"entries": missing["store"]})
    assert response.status_code == 200, response.text
    assert response.json()["path"] == "data/nlu/ops.yml"
    assert ops.get("/api/ops/lookups/crm").json()["store"] == []
    lookups = {item["name"]: item for item in ops.get("/api/ops/lookups").json()["items"]}
    assert lookups["store"]["entries"] == missing["store"]


# ---- FAQ ----------------------------------------------------------------------------------------------


async def test_faq_answer_edit_is_live_on_the_next_message_without_retraining(
    ops: Ops, seeded_sessionmaker: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("actions.crm.get_sessionmaker", lambda: seeded_sessionmaker)
    monkeypatch.setattr("actions.crm.get_read_only_sessionmaker", lambda: seeded_sessionmaker)
    entries = ops.get("/api/ops/faq").json()["items"]
    wifi = next(e for e in entries if e["key"] == "wifi" and e["business_code"] is None and e["store_code"] is None)
    assert wifi["examples"]  # the questions of the key are its NLU examples

    answer = "全店Wi-Fi：YX-Guest，密码见前台。"
    response = ops.patch(f"/api/ops/faq/{wifi['id']}", {"answer": answer, "threshold": 0.45})
    assert response.status_code == 200, response.text
    assert response.json()["threshold"] == 0.45

    from rasa_sdk import Tracker

    tracker = Tracker.from_dict(
        {
            "sender_id": "web:ops-test",
            "slots": {},
            "latest_message": {
                "text": "wifi密码多少",
                "intent": {"name": "faq", "confidence": 0.99},
                "entities": [],
                "response_selector": {"faq": {"response": {"intent_response_key": "faq/wifi", "confidence": 0.9}}},
            },
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    assert dispatcher.messages[0]["text"] == answer


def test_faq_refusals(ops: Ops) -> None:
    assert_refusal(ops.patch("/api/ops/faq/999999", {"answer": "x"}), 404, "faq_not_found")
    entry = ops.get("/api/ops/faq").json()["items"][0]
    assert_refusal(ops.patch(f"/api/ops/faq/{entry['id']}", {"answer": "   "}), 422, "empty_wording")
    assert ops.patch(f"/api/ops/faq/{entry['id']}", {"threshold": 1.5}).status_code == 422
    with ops.factory() as session:
        assert session.get(FaqEntry, entry["id"]).confidence_threshold == entry["threshold"]  # type: ignore[union-attr]


# ---- several processes ---------------------------------------------------------------------------------


def _two_apps_see_one_edit(url: str) -> None:
    engines = [make_engine(url), make_engine(url)]
    try:
        factories = [sessionmaker(engine, expire_on_commit=False) for engine in engines]
        with _app(factories[0]) as first, _app(factories[1]) as second:
            one, two = Ops(first, factories[0], login(first)), Ops(second, factories[1], login(second))
            assert "两个进程都看得到" not in two.examples("greet")
            assert one.post("/api/ops/intents/greet/examples", {"text": "两个进程都看得到"}).status_code == 201
            assert "两个进程都看得到" in two.examples("greet")
            # The second process's save from the old base is refused, not silently merged.
            original = content.repository_text(NLU_BASICS)
            stale = two.put("/api/ops/document", {"path": NLU_BASICS, "text": original, "base_version": 0})
            assert stale.status_code == 409
    finally:
        for engine in engines:
            engine.dispose()


def test_two_app_instances_on_one_sqlite_database_see_one_edit(seeded_db_url: str) -> None:
    _two_apps_see_one_edit(seeded_db_url)


def test_two_app_instances_on_one_postgresql_database_see_one_edit(postgres_seeded_url: str) -> None:
    _two_apps_see_one_edit(postgres_seeded_url)


# ---- rasa data validate ------------------------------------------------------------------------------------


def test_full_text_save_runs_rasa_data_validate(seeded_sessionmaker: sessionmaker[Session]) -> None:
    """A story that contradicts the rules passes the quick checks; Rasa's validator refuses it."""
    from crm.services import content_rasa

    if not content_rasa.available():
        pytest.skip("the rasa env is not installed")
    with _app(seeded_sessionmaker, ops_rasa_validate=True) as client:
        ops = Ops(client, seeded_sessionmaker, login(client))
        text = ops.document(STORIES)["text"] + CONFLICTING_STORY
        response = ops.put("/api/ops/document", {"path": STORIES, "text": text, "base_version": 0})
        assert_refusal(response, 422, "rasa_validate_failed", "conflict", "greet")
        assert ops.version_count() == 0
        # A story that agrees with the rules passes Rasa's validator on the exported copy and is stored.
        text = ops.document(STORIES)["text"] + AGREEING_STORY
        response = ops.put("/api/ops/document", {"path": STORIES, "text": text, "base_version": 0})
        assert response.status_code == 200, response.text
        assert ops.document(STORIES)["version"] == 1


CONFLICTING_STORY = (
    "\n  - story: says goodbye to a greeting\n    steps:\n      - intent: greet\n      - action: utter_goodbye\n"
)


def test_the_last_answer_of_a_key_with_examples_cannot_be_deactivated(ops: Ops) -> None:
    entries = [e for e in ops.get("/api/ops/faq").json()["items"] if e["key"] == "parking"]
    for entry in entries[1:]:
        assert ops.patch(f"/api/ops/faq/{entry['id']}", {"active": False}).status_code == 200
    assert_refusal(ops.patch(f"/api/ops/faq/{entries[0]['id']}", {"active": False}), 422, "faq_last_answer", "parking")


AGREEING_STORY = (
    "\n  - story: greets, then thanks\n    steps:\n      - intent: greet\n      - action: action_greet\n"
    "      - intent: thank\n      - action: utter_thank\n"
)


def test_two_ops_users_saving_one_faq_answer_do_not_overwrite_each_other(ops: Ops) -> None:
    entry = ops.get("/api/ops/faq").json()["items"][0]
    seen = {"expected_answer": entry["answer"], "expected_threshold": entry["threshold"]}
    first = ops.patch(f"/api/ops/faq/{entry['id']}", {"answer": "第一位运营的答案", **seen})
    assert first.status_code == 200, first.text
    second = ops.patch(f"/api/ops/faq/{entry['id']}", {"answer": "第二位运营的答案", **seen})
    assert second.status_code == 409, second.text
    detail = second.json()["detail"]
    assert detail["code"] == "faq_changed"
    assert "第一位运营的答案" in detail["changes"]
    current = next(e for e in ops.get("/api/ops/faq").json()["items"] if e["id"] == entry["id"])
    assert current["answer"] == "第一位运营的答案"


def test_wording_edits_of_different_texts_from_one_base_both_land(ops: Ops) -> None:
    """domain.yml holds every text: a save is stale only when the text being edited changed meanwhile."""
    first = ops.put("/api/ops/wording/utter_goodbye/0", {"text": "再见！", "base_version": 0})
    assert first.status_code == 200, first.text
    other = ops.put("/api/ops/wording/utter_thank/0", {"text": "不客气～", "base_version": 0})
    assert other.status_code == 200, other.text
    same = ops.put("/api/ops/wording/utter_goodbye/0", {"text": "拜拜！", "base_version": 0})
    assert same.status_code == 409, same.text
    assert '+    - text: "再见！"' in same.json()["detail"]["changes"]
    texts = {item["name"]: item["texts"] for item in ops.get("/api/ops/wording").json()["items"]}
    assert (texts["utter_goodbye"][0], texts["utter_thank"][0]) == ("再见！", "不客气～")
