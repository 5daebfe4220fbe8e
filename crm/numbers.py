"""Business numbers: order DD…, complaint TS…, booking YY… (prefix + yyyymmdd + 4-digit daily sequence).

The formats are a contract with the bot and the consoles. Numbers come from `number_sequence`, one row per
(prefix, local day), incremented with a single atomic upsert so concurrent writers never share a number.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

from core.settings import get_settings
from crm.models import NumberSequence
from crm.types import utcnow

ORDER_PREFIX = "DD"
TICKET_PREFIX = "TS"
BOOKING_PREFIX = "YY"
SEQUENCE_DIGITS = 4
MAX_SEQUENCE = 10**SEQUENCE_DIGITS - 1

# Use with .fullmatch(); group 1 is the yyyymmdd day, group 2 the daily sequence.
ORDER_NUMBER_RE = re.compile(r"^DD(\d{8})(\d{4})$")
TICKET_NUMBER_RE = re.compile(r"^TS(\d{8})(\d{4})$")
BOOKING_NUMBER_RE = re.compile(r"^YY(\d{8})(\d{4})$")
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")


class SequenceExhaustedError(RuntimeError):
    """More than MAX_SEQUENCE numbers were requested for one prefix on one day."""


def local_day(moment: datetime | None = None) -> str:
    """The yyyymmdd day of `moment` (default: now) in the business timezone (settings.timezone)."""
    moment = moment or utcnow()
    return moment.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y%m%d")


def format_number(prefix: str, day: str | date, value: int) -> str:
    """`prefix` + yyyymmdd + 4-digit sequence: format_number("DD", "20261120", 17) -> "DD202611200017"."""
    day_text = day.strftime("%Y%m%d") if isinstance(day, date) else day
    if not re.fullmatch(r"\d{8}", day_text):
        raise ValueError(f"day must be yyyymmdd, got {day_text!r}")
    if not 1 <= value <= MAX_SEQUENCE:
        raise SequenceExhaustedError(f"{prefix}{day_text}: sequence {value} outside 1..{MAX_SEQUENCE}")
    return f"{prefix}{day_text}{value:0{SEQUENCE_DIGITS}d}"


def allocate_numbers(session: Session, prefix: str, day: str, count: int) -> list[int]:
    """Reserve `count` consecutive sequence values for (prefix, day) and return them.

    One INSERT … ON CONFLICT DO UPDATE … RETURNING: on PostgreSQL the row lock serialises concurrent
    callers until their transactions end; on SQLite the database write lock does.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    table: Table = NumberSequence.__table__  # type: ignore[assignment]
    dialect = session.get_bind().dialect.name
    keys = [table.c.prefix, table.c.day]
    bump = {"last_value": table.c.last_value + count}
    values = {"prefix": prefix, "day": day, "last_value": count}
    statement: ReturningInsert[tuple[int]]
    if dialect == "postgresql":
        pg_insert = postgresql.insert(table).values(values)
        statement = pg_insert.on_conflict_do_update(index_elements=keys, set_=bump).returning(table.c.last_value)
    elif dialect == "sqlite":
        lite_insert = sqlite.insert(table).values(values)
        statement = lite_insert.on_conflict_do_update(index_elements=keys, set_=bump).returning(table.c.last_value)
    else:
        raise ValueError(f"unsupported database dialect {dialect!r}: the CRM runs on PostgreSQL or SQLite")
    last = session.execute(statement).scalar_one()
    if last > MAX_SEQUENCE:
        raise SequenceExhaustedError(f"{prefix}{day}: {last} exceeds {MAX_SEQUENCE}")
    return list(range(last - count + 1, last + 1))


def allocate_number(session: Session, prefix: str, day: str) -> int:
    """Reserve the next sequence value for (prefix, day)."""
    return allocate_numbers(session, prefix, day, 1)[0]


def _allocate(session: Session, prefix: str, at: datetime | None) -> str:
    day = local_day(at)
    return format_number(prefix, day, allocate_number(session, prefix, day))


def allocate_order_number(session: Session, *, at: datetime | None = None) -> str:
    """Next order number for the local day of `at` (default now), e.g. DD202611200017."""
    return _allocate(session, ORDER_PREFIX, at)


def allocate_ticket_number(session: Session, *, at: datetime | None = None) -> str:
    """Next complaint ticket number, e.g. TS202611200003."""
    return _allocate(session, TICKET_PREFIX, at)


def allocate_booking_number(session: Session, *, at: datetime | None = None) -> str:
    """Next booking number, e.g. YY202611200042."""
    return _allocate(session, BOOKING_PREFIX, at)
