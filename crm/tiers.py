"""`python -m crm.tiers recompute [--url URL]`: recompute every customer's tier and churn (policy/tiers.yml)."""

from __future__ import annotations

import argparse
import logging

from sqlalchemy.orm import sessionmaker

from core.settings import get_settings
from crm.db import make_engine
from crm.policy import use_policy_edits
from crm.services.content import policy_edit_reader
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
    factory = sessionmaker(engine, expire_on_commit=False)
    use_policy_edits(policy_edit_reader(factory))  # thresholds as ops last saved them
    try:
        with factory.begin() as session:
            report = recompute_tiers(session)
    finally:
        use_policy_edits(None)
        engine.dispose()
    logger.info(report.summary())


if __name__ == "__main__":
    main()
