"""Chinese date/time phrases against a fixed "now": Friday 2026-11-20 10:00 in Asia/Shanghai."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from actions.datetimes import When, parse_nights, parse_when, resolve_hour

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Friday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("明天下午三点", When(day=date(2026, 11, 21), clock=time(15, 0))),
        ("后天晚上7点半", When(day=date(2026, 11, 22), clock=time(19, 30))),
        ("下周六上午10点", When(day=date(2026, 11, 28), clock=time(10, 0))),
        ("12月3号中午", When(day=date(2026, 12, 3), clock=time(12, 0))),
        ("今晚八点", When(day=date(2026, 11, 20), clock=time(20, 0))),
        ("三天后", When(day=date(2026, 11, 23))),
        ("十二点半", When(clock=time(12, 30))),
        ("明天中午", When(day=date(2026, 11, 21), clock=time(12, 0))),
        ("12月3日15:30", When(day=date(2026, 12, 3), clock=time(15, 30))),
        ("明天15:30", When(day=date(2026, 11, 21), clock=time(15, 30))),
        ("我想约明天下午三点洗车", When(day=date(2026, 11, 21), clock=time(15, 0))),
        ("订个今晚八点的位", When(day=date(2026, 11, 20), clock=time(20, 0))),
    ],
)
def test_phrases_resolve_relative_to_now(text: str, expected: When) -> None:
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize("text", ["周五", "星期五", "礼拜五"])
def test_bare_weekday_means_the_next_one_not_today_or_the_past(text: str) -> None:
    assert parse_when(text, NOW) == When(day=date(2026, 11, 27))


def test_bare_weekday_later_this_week_is_this_week() -> None:
    monday = NOW.replace(day=16)
    assert parse_when("周五", monday).day == date(2026, 11, 20)


def test_weekday_already_past_this_week_moves_to_next_week() -> None:
    assert parse_when("周三", NOW).day == date(2026, 11, 25)


@pytest.mark.parametrize("text", ["明天", "周五晚上", "三天后"])
def test_a_day_without_a_clock_time_has_no_time(text: str) -> None:
    when = parse_when(text, NOW)
    assert when.day is not None and when.clock is None


@pytest.mark.parametrize(("text", "hour"), [("三点", 3), ("改成四点半", 4)])
def test_bare_hour_is_flagged_ambiguous(text: str, hour: int) -> None:
    when = parse_when(text, NOW)
    assert when.hour_ambiguous and when.clock is not None and when.clock.hour == hour and when.day is None


def test_bare_hour_takes_the_reading_the_store_is_open_at() -> None:
    car_wash_open = lambda clock: time(8, 30) <= clock < time(19, 0)  # noqa: E731
    assert resolve_hour(date(2026, 11, 21), time(3, 0), car_wash_open) == time(15, 0)
    assert resolve_hour(date(2026, 11, 21), time(10, 0), car_wash_open) == time(10, 0)


def test_clock_with_day_part_is_not_ambiguous() -> None:
    assert not parse_when("下午3点", NOW).hour_ambiguous
    assert not parse_when("晚上七点", NOW).hour_ambiguous


@pytest.mark.parametrize(("text", "invalid"), [("13月5号", "month"), ("2月30号", "day"), ("十三月一号", "month")])
def test_impossible_dates_are_reported(text: str, invalid: str) -> None:
    assert parse_when(text, NOW).invalid == invalid


@pytest.mark.parametrize(
    "text", ["YY202611250003", "手机13812345678", "两位", "你们几点营业", "贵A12345", "花果园那家"]
)
def test_numbers_and_other_answers_are_not_times(text: str) -> None:
    assert parse_when(text, NOW).empty


@pytest.mark.parametrize(("text", "nights"), [("住两晚", 2), ("3晚", 3), ("住三天", 3), ("周五晚上吃饭", None)])
def test_nights(text: str, nights: int | None) -> None:
    assert parse_nights(text) == nights


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("明天下午三点", When(day=date(2026, 12, 3), clock=time(15, 0))),
        ("后天下午四点", When(day=date(2026, 12, 4), clock=time(16, 0))),
        ("今晚八点", When(day=date(2026, 12, 2), clock=time(20, 0))),
    ],
)
def test_days_count_from_the_local_date_when_utc_is_still_yesterday(text: str, expected: When) -> None:
    early = datetime(2026, 12, 2, 4, 16, tzinfo=ZoneInfo("Asia/Shanghai"))  # 2026-12-01 20:16 UTC
    assert parse_when(text, early) == expected
