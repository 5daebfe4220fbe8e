"""Seed time: every generated moment is an offset from one anchor date, so one anchor gives one dataset."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class SeedClock:
    """`now` is the anchor date's local midnight: history lies before it, upcoming bookings after it."""

    anchor: date
    tz: ZoneInfo

    @property
    def now(self) -> datetime:
        return datetime.combine(self.anchor, time(0, 0), tzinfo=self.tz)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()

    def at(self, day: date, clock_time: str) -> datetime:
        """The local moment `clock_time` ('HH:MM', '24:00' = next midnight) on `day`."""
        hours, minutes = (int(part) for part in clock_time.split(":"))
        return datetime.combine(day, time(0, 0), tzinfo=self.tz) + timedelta(hours=hours, minutes=minutes)

    def days_before_now(self, rng: random.Random, low: float, high: float) -> datetime:
        """A moment between `low` and `high` days before now (at least 10 minutes ago), to the second."""
        floor = 10 / (24 * 60)
        offset = timedelta(days=rng.uniform(max(low, floor), max(high, floor)))
        return (self.now - offset).replace(microsecond=0)
