from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Order
from crm.numbers import (
    BOOKING_NUMBER_RE,
    MAX_SEQUENCE,
    MOBILE_RE,
    ORDER_NUMBER_RE,
    TICKET_NUMBER_RE,
    SequenceExhaustedError,
    allocate_booking_number,
    allocate_number,
    allocate_numbers,
    allocate_order_number,
    allocate_ticket_number,
    format_number,
    local_day,
)


def test_format_number_pads_the_daily_sequence() -> None:
    assert format_number("DD", "20261120", 17) == "DD202611200017"
    with pytest.raises(SequenceExhaustedError):
        format_number("DD", "20261120", MAX_SEQUENCE + 1)
    with pytest.raises(ValueError, match="yyyymmdd"):
        format_number("DD", "2026-11-20", 1)


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (ORDER_NUMBER_RE, "DD202611200017", "DD20261120017"),
        (TICKET_NUMBER_RE, "TS202611200003", "TS2026112000031"),
        (BOOKING_NUMBER_RE, "YY202611200042", "DD202611200042"),
        (MOBILE_RE, "13812341234", "12812341234"),
    ],
)
def test_number_patterns(pattern, good: str, bad: str) -> None:  # type: ignore[no-untyped-def]
    assert pattern.fullmatch(good)
    assert not pattern.fullmatch(bad)


def test_local_day_uses_the_business_timezone() -> None:
    # 17:30 UTC is already the next day in Asia/Shanghai.
    assert local_day(datetime(2026, 11, 20, 17, 30, tzinfo=timezone.utc)) == "20261121"


def test_allocation_counts_up_per_prefix_and_day(blank_sessionmaker: sessionmaker[Session]) -> None:
    at = datetime(2026, 11, 20, 2, 0, tzinfo=timezone.utc)
    with blank_sessionmaker.begin() as session:
        assert allocate_order_number(session, at=at) == "DD202611200001"
        assert allocate_order_number(session, at=at) == "DD202611200002"
        assert allocate_ticket_number(session, at=at) == "TS202611200001"
        assert allocate_booking_number(session, at=at) == "YY202611200001"
        assert allocate_numbers(session, "DD", "20261120", 3) == [3, 4, 5]
        assert allocate_number(session, "DD", "20261121") == 1


def test_concurrent_allocations_never_share_a_number(blank_sessionmaker: sessionmaker[Session]) -> None:
    def allocate_in_own_transaction(_: int) -> int:
        with blank_sessionmaker.begin() as session:
            return allocate_number(session, "TS", "20261120")

    with ThreadPoolExecutor(max_workers=8) as pool:
        values = list(pool.map(allocate_in_own_transaction, range(40)))
    assert sorted(values) == list(range(1, 41))


def test_allocation_continues_after_the_seed(seeded_session: Session) -> None:
    day, count = seeded_session.execute(
        select(func.substr(Order.order_number, 3, 8).label("day"), func.count())
        .group_by("day")
        .order_by(func.count().desc())
        .limit(1)
    ).one()
    existing = set(seeded_session.scalars(select(Order.order_number)))
    new_value = allocate_number(seeded_session, "DD", day)
    new_number = format_number("DD", day, new_value)
    assert new_number not in existing
    assert new_value == count + 1
