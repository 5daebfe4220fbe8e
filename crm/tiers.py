"""`python -m crm.tiers recompute [--url URL]`: recompute every customer's tier and churn (policy/tiers.yml)."""

from __future__ import annotations

import argparse
import logging

from sqlalchemy.orm import sessionmaker

from core.settings import get_settings
from crm.db import make_engine
from crm.services.tiers import recompute_tiers

logger = logging.getLogger("crm.tiers")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    recompute = commands.add_parser("recompute", help="recompute every tier and record each change")
    recompute.add_argument("--url", help="database URL (default: DATABASE_URL from settings)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    engine = make_engine(args.url or get_settings().database_url)
    try:
        with sessionmaker(engine, expire_on_commit=False).begin() as session:
            report = recompute_tiers(session)
    finally:
        engine.dispose()
    logger.info(report.summary())


if __name__ == "__main__":
    main()
