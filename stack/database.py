"""Brings the CRM database to the current schema and seeds the demo tenant once."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from crm.db import make_engine
from crm.migrate import upgrade_to_head
from crm.seed import seed_demo_tenant

logger = logging.getLogger(__name__)


def prepare_database(database_url: str) -> None:
    upgrade_to_head(database_url)
    engine = make_engine(database_url)
    try:
        with Session(engine) as session, session.begin():
            seeded = seed_demo_tenant(session)
        logger.info("Demo tenant %s", "seeded" if seeded else "already present")
    finally:
        engine.dispose()
