"""action_session_start, action_greet and action_answer_faq against the seeded CRM."""

from __future__ import annotations

from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from actions.faq import ActionAnswerFaq, predicted_faq_key
from actions.greet import ActionGreet
from actions.session import ActionSessionStart
from crm.models import Customer, FaqEntry
from tests.actions.conftest import TrackerFactory
from tests.actions.helpers import slot_values

DOMAIN = {"session_config": {"carry_over_slots_to_new_session": True}}


def faq_selection(key: str, confidence: float = 0.9) -> dict:
    return {"faq": {"response": {"intent_response_key": f"faq/{key}", "confidence": confidence}}}


async def test_session_start_loads_the_customer_named_in_the_channel_metadata(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker() as session:
        customer = session.scalar(select(Customer).where(Customer.web_user_id == "demo-platinum"))
    tracker = make_tracker(
        slots={
            "session_started_metadata": {"customer_id": customer.id, "channel": "web"},
            "order_id": "DD202611200017",
        }
    )
    events = await ActionSessionStart().run(CollectingDispatcher(), tracker, DOMAIN)

    assert events[0] == SessionStarted()
    assert events[-1] == ActionExecuted("action_listen")
    slots = slot_values(events)
    assert slots["customer_id"] == str(customer.id)
    assert slots["customer_name"] == customer.name
    assert slots["customer_tier"] == (customer.tier_override or customer.tier)
    assert slots["customer_identified"] is True
    assert slots["customer_title"].startswith(customer.name[0])
    assert slots["order_id"] == "DD202611200017"  # carried over from the previous session


async def test_an_explicit_session_start_after_a_login_loads_the_customer_of_its_own_metadata(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker() as session:
        customer = session.scalar(select(Customer).where(Customer.web_user_id == "demo-gold"))
    # The conversation started anonymous; the hub sends /session_start with the customer once they log in.
    tracker = make_tracker(
        slots={"session_started_metadata": {"customer_id": None, "channel": "web"}, "business": "car_care"},
        intent="session_start",
    )
    tracker.latest_message["metadata"] = {"customer_id": customer.id, "channel": "web"}
    slots = slot_values(await ActionSessionStart().run(CollectingDispatcher(), tracker, DOMAIN))
    assert slots["customer_id"] == str(customer.id) and slots["customer_identified"] is True
    assert slots["business"] == "car_care"  # what the visitor said before logging in is kept


async def test_session_start_without_metadata_leaves_the_visitor_anonymous(
    make_tracker: TrackerFactory,
) -> None:
    events = await ActionSessionStart().run(CollectingDispatcher(), make_tracker(), DOMAIN)
    assert SlotSet("customer_identified", False) in events
    assert slot_values(events)["customer_id"] is None


async def test_session_start_with_an_unknown_customer_id_stays_anonymous(
    make_tracker: TrackerFactory,
) -> None:
    tracker = make_tracker(slots={"session_started_metadata": {"customer_id": 987654321}})
    events = await ActionSessionStart().run(CollectingDispatcher(), tracker, DOMAIN)
    assert SlotSet("customer_identified", False) in events


async def test_greet_uses_the_title_when_the_customer_is_known(make_tracker: TrackerFactory) -> None:
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, make_tracker(slots={"customer_title": "王女士"}), {})
    assert dispatcher.messages[0]["response"] == "utter_greet_customer"
    assert dispatcher.messages[0]["customer_title"] == "王女士"


async def test_greet_is_generic_for_a_visitor(make_tracker: TrackerFactory) -> None:
    dispatcher = CollectingDispatcher()
    await ActionGreet().run(dispatcher, make_tracker(), {})
    assert dispatcher.messages[0]["response"] == "utter_greet"


async def test_faq_answer_is_read_from_the_crm_and_follows_an_edit(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    tracker = make_tracker(intent="faq", text="wifi密码多少", response_selector=faq_selection("wifi"))
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    with crm_sessionmaker() as session:
        general = session.scalar(
            select(FaqEntry.answer_zh).where(
                FaqEntry.key == "wifi", FaqEntry.store_id.is_(None), FaqEntry.business_code.is_(None)
            )
        )
    assert dispatcher.messages[0]["text"] == general

    with crm_sessionmaker.begin() as session:
        session.execute(update(FaqEntry).where(FaqEntry.key == "wifi").values(answer_zh="新的Wi-Fi说明"))
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    assert dispatcher.messages[0]["text"] == "新的Wi-Fi说明"


async def test_faq_answer_prefers_the_business_the_customer_named(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker() as session:
        entry = session.scalars(
            select(FaqEntry).where(FaqEntry.business_code.is_not(None), FaqEntry.store_id.is_(None))
        ).first()
    assert entry is not None, "the seed has business-specific FAQ answers"
    tracker = make_tracker(
        intent="faq",
        response_selector=faq_selection(entry.key),
        entities=[{"entity": "business", "value": entry.business_code}],
    )
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    assert dispatcher.messages[0]["text"] == entry.answer_zh


async def test_faq_without_an_answer_in_the_crm_says_so(make_tracker: TrackerFactory) -> None:
    tracker = make_tracker(intent="faq", response_selector=faq_selection("no_such_topic"))
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    assert dispatcher.messages[0]["response"] == "utter_faq_unavailable"


def test_predicted_faq_key_reads_the_response_selector() -> None:
    assert predicted_faq_key({"response_selector": faq_selection("parking")}) == "parking"
    assert predicted_faq_key({"response_selector": {}}) is None
    assert predicted_faq_key({}) is None


def ranked_selection(ranking: list[tuple[str, float]]) -> dict:
    best_key, best_confidence = ranking[0]
    return {
        "faq": {
            "response": {"intent_response_key": f"faq/{best_key}", "confidence": best_confidence},
            "ranking": [{"intent_response_key": f"faq/{k}", "confidence": c} for k, c in ranking],
        }
    }


DOMAIN_WITH_SUGGESTIONS = {
    "responses": {
        "utter_faq_suggestions": [
            {"text": "您是想问：", "buttons": [{"title": "都不是，转人工", "payload": "/request_human"}]}
        ]
    }
}


async def test_below_the_answer_threshold_the_top_questions_are_offered_not_guessed(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    ranking = [("parking", 0.25), ("business_hours", 0.2), ("store_locations", 0.15), ("wifi", 0.01)]
    tracker = make_tracker(intent="faq", text="车", response_selector=ranked_selection(ranking))
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, tracker, DOMAIN_WITH_SUGGESTIONS)

    with crm_sessionmaker() as session:
        questions = {
            key: session.scalar(
                select(FaqEntry.question_zh).where(
                    FaqEntry.key == key, FaqEntry.business_code.is_(None), FaqEntry.store_id.is_(None)
                )
            )
            for key in ("parking", "business_hours", "store_locations")
        }
    message = dispatcher.messages[0]
    assert message["text"] == "您是想问："
    titles = [button["title"] for button in message["buttons"]]
    assert titles == [
        questions["parking"],
        questions["business_hours"],
        questions["store_locations"],
        "都不是，转人工",
    ]
    assert all(b["payload"] == b["title"] for b in message["buttons"][:3])


async def test_pressing_a_suggested_question_answers_it(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    with crm_sessionmaker() as session:
        entry = session.scalar(
            select(FaqEntry).where(
                FaqEntry.key == "parking", FaqEntry.business_code.is_(None), FaqEntry.store_id.is_(None)
            )
        )
    # Even if the model is unsure about the canonical question, the button press is unambiguous.
    tracker = make_tracker(
        intent="faq",
        text=entry.question_zh,
        response_selector=ranked_selection([("wifi", 0.2), ("parking", 0.19)]),
    )
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, tracker, DOMAIN_WITH_SUGGESTIONS)
    assert dispatcher.messages[0]["text"] == entry.answer_zh


async def test_the_threshold_is_per_answer_and_editable(
    make_tracker: TrackerFactory, crm_sessionmaker: sessionmaker[Session]
) -> None:
    tracker = make_tracker(intent="faq", text="停车", response_selector=ranked_selection([("parking", 0.7)]))
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, tracker, DOMAIN_WITH_SUGGESTIONS)
    assert "buttons" not in dispatcher.messages[0] or not dispatcher.messages[0]["buttons"]

    with crm_sessionmaker.begin() as session:
        session.execute(update(FaqEntry).where(FaqEntry.key == "parking").values(confidence_threshold=0.9))
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, tracker, DOMAIN_WITH_SUGGESTIONS)
    assert dispatcher.messages[0]["text"] == "您是想问："


async def test_faq_answers_for_the_store_the_customer_named(make_tracker: TrackerFactory) -> None:
    tracker = make_tracker(
        intent="faq",
        text="九眼桥那家几点打烊",
        response_selector=faq_selection("business_hours"),
        entities=[{"entity": "store", "value": "cd-jj-food"}],
    )
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    (message,) = dispatcher.messages
    assert message["text"].startswith("悦享食府（成都九眼桥店）的营业时间")
    assert "花果园" not in message["text"]


async def test_faq_for_a_place_with_two_stores_answers_for_both(make_tracker: TrackerFactory) -> None:
    tracker = make_tracker(
        intent="faq",
        text="花果园店几点开门",
        response_selector=faq_selection("business_hours"),
        entities=[{"entity": "store", "value": "gy-hgy-car"}, {"entity": "store", "value": "gy-hgy-suit"}],
    )
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    (message,) = dispatcher.messages
    lines = message["text"].split("\n")
    assert [line.split("的营业时间")[0] for line in lines] == [
        "悦享汽车美容养护（贵阳花果园店）",
        "悦享男装（贵阳花果园旗舰店）",
    ]
    assert "九眼桥" not in message["text"]


async def test_parking_for_the_named_store_is_that_stores_own(make_tracker: TrackerFactory) -> None:
    tracker = make_tracker(
        intent="faq",
        text="九眼桥那家能停车吗",
        response_selector=faq_selection("parking"),
        entities=[{"entity": "store", "value": "cd-jj-food"}],
    )
    dispatcher = CollectingDispatcher()
    await ActionAnswerFaq().run(dispatcher, tracker, {})
    (message,) = dispatcher.messages
    assert message["text"].startswith("悦享食府（成都九眼桥店）停车：")
    assert "滨江里地下停车场" in message["text"]  # the store's own parking from crm/seed/data/stores.yml
    assert "酒店" not in message["text"]  # not the general answer about every business
