"""How customers type numbers, and what the actions make of it."""

from __future__ import annotations

import pytest

from actions.normalize import (
    find_booking_number,
    find_mobile,
    find_order_number,
    find_ticket_number,
    looks_like_phone_attempt,
    parse_count,
)


@pytest.mark.parametrize(
    "text",
    [
        "DD202611200017",
        "dd202611200017",
        "我的订单DD 2026 1120 0017到哪了",
        "ＤＤ２０２６１１２００　０１７",
        "单号 202611200017",
        "DD-2026-1120-0017",
        "订单号是：dd2026 11200017 谢谢",
    ],
)
def test_order_numbers_are_recognised_however_they_are_typed(text: str) -> None:
    assert find_order_number(text) == "DD202611200017"


@pytest.mark.parametrize(
    "text", ["DD20261120001", "2026112000171234", "我的订单到哪了", "123456789012", "DD2026112000178"]
)
def test_non_order_numbers_are_not_invented(text: str) -> None:
    assert find_order_number(text) is None


def test_bare_digits_can_be_refused_where_context_is_ambiguous() -> None:
    assert find_order_number("202611200017", allow_bare=False) is None


def test_ticket_and_booking_numbers() -> None:
    assert find_ticket_number("投诉单ts202611210003进度") == "TS202611210003"
    assert find_booking_number("ＹＹ２０２６１１２２０００１") == "YY202611220001"
    assert find_ticket_number("DD202611200017", allow_bare=False) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13812345678", "13812345678"),
        ("我的手机 138 1234 5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("1381234567", None),
        ("12812345678", None),
        ("138123456789", None),
    ],
)
def test_mobiles(text: str, expected: str | None) -> None:
    assert find_mobile(text) == expected


def test_a_ten_digit_number_is_a_failed_phone_attempt() -> None:
    assert looks_like_phone_attempt("1381234567")
    assert not looks_like_phone_attempt("13812345678")
    assert not looks_like_phone_attempt("明天下午三点")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("两位", 2),
        ("十五个人", 15),
        ("3个人", 3),
        ("一家三口", 3),
        ("6", 6),
        ("我们二十来个人", 20),
        ("四位", 4),
        ("明天", None),
    ],
)
def test_party_sizes(text: str, expected: int | None) -> None:
    assert parse_count(text) == expected
