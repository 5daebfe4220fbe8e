"""转人工 (until the agent console lands) states the CRM's contact facts, so it cannot contradict the FAQ."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from actions.interim_handoff import ActionInterimRequestHuman
from crm.models import FaqEntry
from tests.actions.conftest import TrackerFactory
from tests.actions.helpers import DOMAIN


async def test_the_interim_line_is_the_crms_contact_answer(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker.begin() as session:
        contact = "客服热线 400-000-1234（每天 07:00-23:00）"
        session.execute(update(FaqEntry).where(FaqEntry.key == "contact").values(answer_zh=contact))
    dispatcher = CollectingDispatcher()
    await ActionInterimRequestHuman().run(dispatcher, make_tracker(intent="request_human", text="转人工"), DOMAIN)
    [message] = dispatcher.messages
    assert message["response"] == "utter_interim_request_human"
    assert message["contact"] == "客服热线 400-000-1234（每天 07:00-23:00）"


def test_no_hotline_is_written_into_the_domain() -> None:
    texts = [variant.get("text", "") for variants in DOMAIN["responses"].values() for variant in variants]
    assert not [text for text in texts if "400-" in text]


async def test_without_a_contact_answer_it_still_answers(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker.begin() as session:
        for entry in session.scalars(select(FaqEntry).where(FaqEntry.key == "contact")):
            session.delete(entry)
    dispatcher = CollectingDispatcher()
    await ActionInterimRequestHuman().run(dispatcher, make_tracker(intent="request_human"), DOMAIN)
    assert [m["response"] for m in dispatcher.messages] == ["utter_interim_request_human_no_contact"]
