"""The date range a report covers: whole local days in the tenant's timezone, queried as UTC instants."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

# A dashboard query over more than this many days is refused (it would scan years of transcripts).
MAX_DAYS = 366


class PeriodError(ValueError):
    """A date range that cannot be reported on; the message says why."""


@dataclass(frozen=True)
class Period:
    """`first` to `last` inclusive, as local days in `tz`."""

    first: date
    last: date
    tz: ZoneInfo

    @classmethod
    def parse(cls, first: str, last: str, tz: str) -> Period:
        """Dates as YYYY-MM-DD; PeriodError names the bad value, a reversed or an over-long range."""
        start = _parse_day("from", first)
        end = _parse_day("to", last)
        if start > end:
            raise PeriodError(f"'from' ({start}) is after 'to' ({end})")
        if (end - start).days + 1 > MAX_DAYS:
            raise PeriodError(f"the range covers {(end - start).days + 1} days; at most {MAX_DAYS} are allowed")
        return cls(start, end, ZoneInfo(tz))

    @property
    def start(self) -> datetime:
        """The first instant of the range (local midnight of `first`) in UTC."""
        return datetime.combine(self.first, time.min, self.tz).astimezone(timezone.utc)

    @property
    def end(self) -> datetime:
        """The first instant after the range (local midnight after `last`) in UTC."""
        return datetime.combine(self.last + timedelta(days=1), time.min, self.tz).astimezone(timezone.utc)

    def days(self) -> Iterator[date]:
        day = self.first
        while day <= self.last:
            yield day
            day += timedelta(days=1)

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()


def _parse_day(name: str, value: str) -> date:
    try:
        if len(value) != 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError as error:
        raise PeriodError(f"'{name}' must be a date as YYYY-MM-DD, got {value!r}") from error
