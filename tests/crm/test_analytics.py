"""Analytics queries on a hand-made data set with known answers (tests/crm/analytics_data.py), on both backends."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from crm.services.analytics import Period, PeriodError, analytics_csv, analytics_report, feedback_csv, feedback_report
from crm.services.analytics.nlu import NluReading, reading_of, record_nlu
from crm.services.analytics.service_levels import percentile
from crm.services.analytics.weekly import week_ending, write_weekly_reports
from tests.crm.analytics_data import FIRST, LAST, NOW, add_week_end

TZ = "Asia/Shanghai"


@pytest.fixture
def week_end(seeded_session: Session) -> dict[str, str]:
    return add_week_end(seeded_session)


def report(session: Session):  # type: ignore[no-untyped-def]
    return analytics_report(session, Period.parse(FIRST, LAST, TZ), now=NOW)


def test_period_is_whole_local_days_in_utc() -> None:
    period = Period.parse("2027-01-10", "2027-01-11", TZ)
    assert period.start == datetime(2027, 1, 9, 16, tzinfo=timezone.utc)
    assert period.end == datetime(2027, 1, 11, 16, tzinfo=timezone.utc)
    assert list(period.days()) == [date(2027, 1, 10), date(2027, 1, 11)]


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("2027-1-10", "2027-01-11", "'from' must be a date as YYYY-MM-DD, got '2027-1-10'"),
        ("2027-01-10", "2027-02-30", "'to' must be a date as YYYY-MM-DD, got '2027-02-30'"),
        ("2027-01-12", "2027-01-11", "'from' (2027-01-12) is after 'to' (2027-01-11)"),
        ("2020-01-01", "2027-01-11", "the range covers 2568 days; at most 366 are allowed"),
    ],
)
def test_period_refuses_bad_ranges_with_the_reason(first: str, last: str, message: str) -> None:
    with pytest.raises(PeriodError) as raised:
        Period.parse(first, last, TZ)
    assert str(raised.value) == message


def test_percentile_is_nearest_rank() -> None:
    values = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 100)) == (50, 90, 100)
    assert percentile([7], 90) == 7
    assert percentile([], 50) is None


def test_conversations_per_local_day_and_channel_and_containment(seeded_session: Session, week_end: object) -> None:
    out = report(seeded_session)
    assert out.conversations == 5  # c4 started 23:59 on the 9th, local time
    assert [(d.day.isoformat(), d.total, d.by_channel) for d in out.conversations_by_day] == [
        ("2027-01-10", 2, {"web": 1, "wechat": 1, "rest": 0}),
        ("2027-01-11", 3, {"web": 3, "wechat": 0, "rest": 0}),  # c3 started 00:30 local = 16:30 UTC the day before
    ]
    assert out.conversations_by_channel == {"web": 4, "wechat": 1, "rest": 0}
    assert (out.contained, out.escalated) == (2, 3)
    assert (out.containment_rate, out.escalation_rate) == (0.4, 0.6)


def test_escalations_first_response_and_sla_per_tier(seeded_session: Session, week_end: object) -> None:
    out = report(seeded_session)
    assert out.escalations == 3
    assert out.escalations_by_tier == {"platinum": 1, "gold": 1, "iron": 0, "lead": 0, "anonymous": 1}
    assert [(c.key, c.count) for c in out.escalations_by_reason] == [
        ("customer asked for a person", 2),
        ("complaint", 1),
    ]
    gold, platinum, anonymous = (
        out.first_response["gold"],
        out.first_response["platinum"],
        out.first_response["anonymous"],
    )
    assert (gold.p50_seconds, gold.p90_seconds, gold.sla_met, gold.sla_breached, gold.sla_rate) == (60, 60, 1, 0, 1.0)
    assert (platinum.p50_seconds, platinum.sla_met, platinum.sla_breached, platinum.sla_rate) == (180, 0, 1, 0.0)
    assert (anonymous.answered, anonymous.sla_pending, anonymous.sla_rate) == (0, 1, None)
    assert out.sla_compliance == {"platinum": 0.0, "gold": 1.0, "iron": None, "lead": None, "anonymous": None}


def test_an_unanswered_escalation_past_its_due_time_counts_as_breached(
    seeded_session: Session, week_end: object
) -> None:
    later = analytics_report(
        seeded_session, Period.parse(FIRST, LAST, TZ), now=datetime(2027, 1, 11, 4, tzinfo=timezone.utc)
    )
    assert (later.first_response["anonymous"].sla_breached, later.sla_compliance["anonymous"]) == (1, 0.0)


def test_fallback_rate_intents_and_faq_keys_from_the_recorded_nlu(seeded_session: Session, week_end: object) -> None:
    out = report(seeded_session)
    assert (out.customer_messages, out.nlu_messages, out.fallbacks, out.fallback_rate) == (5, 4, 1, 0.25)
    assert [(c.key, c.count) for c in out.top_intents] == [
        ("faq", 1),
        ("greet", 1),
        ("nlu_fallback", 1),
        ("order_status", 1),
    ]
    assert [(c.key, c.count) for c in out.top_faq_keys] == [("business_hours", 1)]
    assert out.faq_questions == {"business_hours": "你们几点开门？营业时间是什么？"}


def test_csat_overall_per_agent_and_per_business(seeded_session: Session, week_end: dict[str, str]) -> None:
    out = report(seeded_session)
    assert (out.csat_responses, out.csat_average) == (2, 3.5)
    assert out.csat_distribution == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
    assert [(g.label, g.average, g.distribution["5"], g.distribution["2"]) for g in out.csat_by_agent] == [
        (week_end["first_agent"], 5.0, 1, 0),
        (week_end["second_agent"], 2.0, 0, 1),
    ]
    assert [(g.key, g.label, g.responses, g.average) for g in out.csat_by_business] == [
        ("hotel", out.businesses["hotel"], 1, 5.0),
        ("restaurant", out.businesses["restaurant"], 1, 2.0),
    ]


def test_bot_outcomes_and_complaints_by_department(seeded_session: Session, week_end: object) -> None:
    out = report(seeded_session)
    assert out.bot.model_dump() == {"bookings_made": 1, "orders_looked_up": 1, "complaints_opened": 3}
    groups = {g.business: g for g in out.complaints_by_business}
    assert sorted(groups) == ["general", "hotel", "restaurant"]
    assert (groups["hotel"].total, groups["hotel"].high_severity, groups["hotel"].open) == (1, 1, 1)
    assert groups["hotel"].by_category["service_attitude"] == 1
    assert groups["restaurant"].by_category == {
        "service_attitude": 0, "product_quality": 0, "delivery": 0, "billing": 0, "hygiene": 1, "facilities": 0,
        "other": 0,
    }  # fmt: skip
    assert groups["restaurant"].open == 0
    assert out.complaint_categories["hygiene"] == "卫生/食品安全"


def test_an_empty_range_has_zero_counts_and_no_rates(seeded_session: Session) -> None:
    out = analytics_report(seeded_session, Period.parse("2027-03-01", "2027-03-01", TZ), now=NOW)
    assert (out.conversations, out.escalations, out.csat_responses) == (0, 0, 0)
    assert (out.containment_rate, out.escalation_rate, out.fallback_rate, out.csat_average) == (None, None, None, None)


def test_feedback_report_for_one_department_and_its_csv(seeded_session: Session, week_end: object) -> None:
    period = Period.parse(FIRST, LAST, TZ)
    hotel = feedback_report(seeded_session, period, business="hotel")
    assert [item.ticket_number for item in hotel.items] == ["TS202701100001"]  # the 9th's is outside the week
    assert hotel.items[0].created_at == "2027-01-10 23:45"  # local time
    general = feedback_report(seeded_session, period, business="general")
    assert [item.ticket_number for item in general.items] == ["TS202701110002"]
    body = feedback_csv(hotel)
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert rows[0][:3] == ["工单号", "提交时间", "业态"]
    assert rows[1][0] == "TS202701100001"
    assert "服务态度" in rows[1]
    assert len(rows) == 2


def test_analytics_csv_has_one_figure_per_row(seeded_session: Session, week_end: object) -> None:
    rows = list(csv.reader(io.StringIO(analytics_csv(report(seeded_session)).removeprefix("\ufeff"))))
    assert rows[0] == ["section", "item", "metric", "value"]
    figures = {(section, item, metric): value for section, item, metric, value in rows[1:]}
    assert figures["summary", "2027-01-10..2027-01-11", "conversations"] == "5"
    assert figures["summary", "2027-01-10..2027-01-11", "containment_rate"] == "0.4"
    assert figures["conversations_by_day", "2027-01-11", "web"] == "3"
    assert figures["sla_compliance", "gold", "rate"] == "1.0"
    assert figures["sla_compliance", "iron", "rate"] == ""


def test_record_nlu_keeps_the_reading_on_the_customer_message(seeded_session: Session, week_end: object) -> None:
    from sqlalchemy import select

    from crm.models import Message

    message = seeded_session.scalars(select(Message).where(Message.text == "人呢")).one()
    assert record_nlu(seeded_session, message_id=message.id, reading=NluReading(intent="request_human", confidence=0.8))
    seeded_session.refresh(message)
    assert reading_of(message.payload) == NluReading(intent="request_human", confidence=0.8)
    assert not record_nlu(seeded_session, message_id=10**9, reading=NluReading(intent="greet"))
    assert reading_of({"nlu": {"intent": ""}}) is None


def test_weekly_reports_write_one_file_per_department(
    seeded_session: Session, week_end: object, tmp_path: Path
) -> None:
    period = week_ending(date(2027, 1, 11), TZ)
    assert (period.first, period.last) == (date(2027, 1, 5), date(2027, 1, 11))
    written = write_weekly_reports(seeded_session, period, tmp_path)
    assert sorted(path.name for path in written) == [
        "analytics_2027-01-05_2027-01-11.csv",
        "feedback_general_2027-01-05_2027-01-11.csv",
        "feedback_hotel_2027-01-05_2027-01-11.csv",
        "feedback_restaurant_2027-01-05_2027-01-11.csv",
    ]
    hotel = list(
        csv.reader(io.StringIO((tmp_path / "feedback_hotel_2027-01-05_2027-01-11.csv").read_text("utf-8-sig")))
    )
    # The week includes the 9th's billing complaint as well as the 10th's.
    assert [row[0] for row in hotel[1:]] == ["TS202701090001", "TS202701100001"]
