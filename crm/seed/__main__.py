"""`python -m crm.seed [--anchor-date YYYY-MM-DD] [--url URL]`: seed the CRM database once."""

from __future__ import annotations

import argparse
import logging
import os
from datetime import date

from sqlalchemy.orm import sessionmaker

from core.settings import get_settings
from crm.db import make_engine
from crm.seed import default_anchor, seed

logger = logging.getLogger("crm.seed")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--anchor-date",
        type=date.fromisoformat,
        default=os.environ.get("CRM_SEED_ANCHOR_DATE") or None,
        help="date the demo data is relative to (default: CRM_SEED_ANCHOR_DATE, else today)",
    )
    parser.add_argument("--url", help="database URL (default: DATABASE_URL from settings)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    anchor: date = args.anchor_date or default_anchor()  # argparse applies `type` to the env default too
    engine = make_engine(args.url or get_settings().database_url)
    try:
        with sessionmaker(engine, expire_on_commit=False).begin() as session:
            report = seed(session, anchor=anchor)
    finally:
        engine.dispose()
    logger.info(report.summary())


if __name__ == "__main__":
    main()
