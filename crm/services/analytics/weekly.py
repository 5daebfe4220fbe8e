"""The weekly feedback report as files, one per department, for a scheduler to mail or file:

    python -m crm.services.analytics.weekly --out var/reports [--week-ending YYYY-MM-DD] [--url DATABASE_URL]

writes `feedback_<business>_<from>_<to>.csv` for every department with complaints in the seven local days that
end on `--week-ending` (default: yesterday in the tenant's timezone) and `analytics_<from>_<to>.csv` with every
dashboard figure of the week. Prints the files written.
"""

from __future__ import annotations

import argparse
import logging
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings
from crm.db import make_engine
from crm.services.analytics.csv_export import analytics_csv, feedback_csv
from crm.services.analytics.period import Period, PeriodError
from crm.services.analytics.report import analytics_report, feedback_report

logger = logging.getLogger("crm.services.analytics.weekly")
WEEK_DAYS = 7


def week_ending(last: date, tz: str) -> Period:
    return Period.parse((last - timedelta(days=WEEK_DAYS - 1)).isoformat(), last.isoformat(), tz)


def write_weekly_reports(session: Session, period: Period, out: Path) -> list[Path]:
    """One CSV per department with complaints in `period`, plus the period's analytics CSV; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    span = f"{period.first}_{period.last}"
    written = []
    for department in feedback_report(session, period).departments:
        report = feedback_report(session, period, business=department.business)
        path = out / f"feedback_{department.business}_{span}.csv"
        path.write_text(feedback_csv(report), encoding="utf-8")
        written.append(path)
    path = out / f"analytics_{span}.csv"
    path.write_text(analytics_csv(analytics_report(session, period)), encoding="utf-8")
    written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the CSV files")
    parser.add_argument("--week-ending", help="last local day of the week, YYYY-MM-DD (default: yesterday)")
    parser.add_argument("--url", help="database URL (default: DATABASE_URL from settings)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = get_settings()
    tz = settings.timezone
    try:
        last = date.fromisoformat(args.week_ending) if args.week_ending else None
        period = week_ending(last or datetime.now(ZoneInfo(tz)).date() - timedelta(days=1), tz)
    except (ValueError, PeriodError) as error:
        logger.error("--week-ending: %s", error)
        return 2
    engine = make_engine(args.url or settings.database_url)
    try:
        with sessionmaker(engine)() as session:
            for path in write_weekly_reports(session, period, args.out):
                logger.info("%s", path)
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
