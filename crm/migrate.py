"""Bring the CRM database to the latest Alembic revision: `python -m crm.migrate`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from core.settings import get_settings
from crm.models import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

logger = logging.getLogger("crm.migrate")


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic filter: only our tables, never e.g. Rasa's tracker-store `events` in the same database."""
    if type_ == "table":
        return name in Base.metadata.tables
    return True


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config for crm/migrations without reading alembic.ini (so it works from any directory)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # Passed as an attribute: set_main_option would treat '%' in passwords as interpolation.
        config.attributes["sqlalchemy.url"] = url
    return config


def _ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def upgrade_to_head(url: str | None = None) -> None:
    """Apply every pending migration to `url` (default: settings.database_url)."""
    target = url or get_settings().database_url
    _ensure_sqlite_directory(target)
    command.upgrade(alembic_config(target), "head")


def downgrade_to_base(url: str | None = None) -> None:
    """Revert every migration on `url` (default: settings.database_url); drops only CRM tables."""
    command.downgrade(alembic_config(url or get_settings().database_url), "base")


def schema_drift(connection: Connection) -> list[Any]:
    """Differences between the database behind `connection` and crm.models (empty when migrations match)."""
    context = MigrationContext.configure(
        connection,
        opts={"include_name": include_name, "compare_type": True, "target_metadata": Base.metadata},
    )
    return list(compare_metadata(context, Base.metadata))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="database URL (default: DATABASE_URL from settings)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    upgrade_to_head(args.url)
    logger.info("CRM database is at the latest revision")


if __name__ == "__main__":
    main()
