"""Chinese dates and times relative to now (settings.timezone), built on jionlp with our own fixes.

jionlp finds and parses the time phrase; these rules correct what it gets wrong for bookings:

1. A bare weekday (周五 / 星期五 / 礼拜五, without 这/本/下/上) means the next such day after today;
   jionlp returns this week's, which may already be past (or today).
2. A phrase without a clock time (明天, 三天后, 周五晚上) gives only a day: the form asks for the time
   instead of silently taking 00:00 (or jionlp's 18:00 for 晚上).
3. 中午 (without a clock time) means 12:00.
4. A bare hour from 1 to 11 without 上午/下午/早上/晚上… is ambiguous: `resolve_hour` picks the reading
   the store is open at (三点 -> 15:00 at a car wash open 08:30-19:00; 十点 -> 10:00), see there.
5. A time without a day (四点半, 改成十二点半) keeps the day already chosen; the caller decides.
6. Impossible dates (13月, 2月30号) are reported, not wrapped around as jionlp does (13月 -> 3月).
7. Order, booking and mobile numbers are removed before parsing, so YY2026… is never read as a date.

`now()` is the clock; tests replace it (monkeypatch `actions.datetimes.now`).
"""

from __future__ import annotations

import calendar
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import cn2an

from actions.normalize import normalize_text
from core.settings import get_settings

logger = logging.getLogger(__name__)

_CN_NUMBER = r"[0-9]{1,2}|[零一二两三四五六七八九十]{1,3}"
_MONTH = re.compile(rf"({_CN_NUMBER})\s*月份?")
_MONTH_DAY = re.compile(rf"({_CN_NUMBER})\s*月\s*({_CN_NUMBER}|[二三]十[一二三四五六七八九]?)\s*[日号]")
_NUMBERS_TO_HIDE = re.compile(r"[A-Za-z]{2}\d{12}|\d{7,}|\d{3}[\s-]\d{4}[\s-]\d{4}")
_HAS_CLOCK = re.compile(r"[点:：时]|中午|正午")
_HAS_DAY = re.compile(r"[日号月]|周[一二三四五六日天末]|星期|礼拜|[今明后昨]天|[今明][晚早]|天后|大后天|[下这本上]周")
_BARE_WEEKDAY = re.compile(r"(?<![下这本上])(?:周|星期|礼拜)([一二三四五六日天1-7])")
_DAY_PART = re.compile(r"上午|早上|早晨|清晨|凌晨|中午|正午|下午|傍晚|晚上|夜里|夜间|今晚|明晚|晚|早")
_NOON = re.compile(r"中午|正午")
_NIGHTS = re.compile(rf"(?<![周期拜])({_CN_NUMBER})\s*(?:个)?\s*(?:晚|夜)(?![上饭餐间])")
_STAY_DAYS = re.compile(rf"住\s*({_CN_NUMBER})\s*天")

Clock = Callable[[], datetime]


def now() -> datetime:
    """The current moment in the business timezone."""
    return datetime.now(ZoneInfo(get_settings().timezone))


@dataclass(frozen=True)
class When:
    """What a message said about a moment: a day, a clock time, both, or an impossible date."""

    day: date | None = None
    clock: time | None = None
    hour_ambiguous: bool = False  # '三点': 03:00 or 15:00, see resolve_hour
    invalid: str | None = None  # 'month' (13月) or 'day' (2月30号)

    @property
    def empty(self) -> bool:
        return self.day is None and self.clock is None and self.invalid is None


def _number(token: str) -> int | None:
    try:
        return int(cn2an.cn2an(token, "smart"))
    except (ValueError, KeyError):
        return None


def _invalid_date(text: str, today: date) -> str | None:
    for match in _MONTH.finditer(text):
        month = _number(match.group(1))
        if month is not None and not 1 <= month <= 12:
            return "month"
    for match in _MONTH_DAY.finditer(text):
        month, day = _number(match.group(1)), _number(match.group(2))
        if month is None or day is None or not 1 <= month <= 12:
            continue
        year = today.year if month >= today.month else today.year + 1
        if not 1 <= day <= calendar.monthrange(year, month)[1]:
            return "day"
    return None


def _extract(text: str, moment: datetime) -> tuple[str, datetime] | None:
    """The first time phrase jionlp finds and the moment it starts, or None."""
    import jionlp  # imported lazily: loading its dictionaries takes a few seconds

    try:
        # The wall clock of `moment`, not its timestamp: jionlp turns a timestamp into a date in the server's
        # own time zone, so before 08:00 in Shanghai on a UTC server "明天" was a day early.
        found = jionlp.ner.extract_time(text, time_base=moment.replace(tzinfo=None), with_parsing=True)
    except Exception:  # jionlp raises plain ValueError/KeyError on odd input; treat as "no time"
        logger.debug("jionlp could not parse %r", text, exc_info=True)
        return None
    for item in found:
        detail = item.get("detail") or {}
        if detail.get("type") != "time_point":
            continue
        start = detail["time"][0]
        if not isinstance(start, str):
            continue
        parsed = datetime.strptime(start, "%Y-%m-%d %H:%M:%S").replace(tzinfo=moment.tzinfo)
        return item["text"], parsed
    return None


def parse_when(text: str, moment: datetime) -> When:
    """Reads a day and/or a clock time from a customer's message, relative to `moment` (aware)."""
    folded = _NUMBERS_TO_HIDE.sub(" ", normalize_text(text))
    today = moment.date()
    invalid = _invalid_date(folded, today)
    if invalid:
        return When(invalid=invalid)
    found = _extract(folded, moment)
    if found is None:
        return When()
    phrase, start = found
    has_clock = bool(_HAS_CLOCK.search(phrase))
    has_day = bool(_HAS_DAY.search(phrase))
    day = start.date() if has_day else None
    if day is not None and _BARE_WEEKDAY.search(phrase) and day <= today:
        day += timedelta(days=7 * ((today - day).days // 7 + 1))
    clock: time | None = None
    ambiguous = False
    if has_clock:
        if _NOON.search(phrase) and "点" not in phrase:
            clock = time(12, 0)
        else:
            clock = start.time().replace(second=0)
            ambiguous = not _DAY_PART.search(phrase) and 1 <= clock.hour <= 11
    return When(day=day, clock=clock, hour_ambiguous=ambiguous)


def resolve_hour(day: date, clock: time, is_open: Callable[[time], bool]) -> time:
    """A bare '三点' on `day`: the morning reading if the store is open then, else the afternoon one.

    Morning wins when both are open (十点 -> 10:00 at a menswear store open 10:00-22:00); when neither
    is open the afternoon reading is returned so the refusal speaks of the more likely time.
    """
    afternoon = clock.replace(hour=clock.hour + 12)
    if is_open(clock):
        return clock
    return afternoon


def parse_nights(text: str) -> int | None:
    """'住两晚' / '3晚' / '住三天' -> the number of nights."""
    folded = normalize_text(text)
    match = _NIGHTS.search(folded) or _STAY_DAYS.search(folded)
    return _number(match.group(1)) if match else None
