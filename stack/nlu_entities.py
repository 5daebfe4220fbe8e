"""Exports the CRM's store and service vocabulary for the NLU before training (var/nlu/crm_entities.json).

Reads the CRM database when it is reachable and has stores, otherwise the seed data, so a fresh clone
trains the same model. stack/model.py runs it before computing the model fingerprint, which covers the
exported file: editing a store or service in the CRM retrains the model.

    python -m stack.nlu_entities [--seed-only]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from core.settings import PROJECT_ROOT, VAR_DIR

logger = logging.getLogger(__name__)

EXPORT_PATH = VAR_DIR / "nlu" / "crm_entities.json"
SEED_DIR = PROJECT_ROOT / "crm" / "seed" / "data"
BOOKING_POLICY = PROJECT_ROOT / "policy" / "bookings.yml"  # the booking words of each service (crm.services.bookings)


def _vocabulary_module() -> ModuleType:
    """bot/crm_vocabulary.py by file path: the `bot` package itself imports rasa-env code."""
    spec = importlib.util.spec_from_file_location("bot_crm_vocabulary", PROJECT_ROOT / "bot" / "crm_vocabulary.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(module)
    return module


def _seed_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    stores = yaml.safe_load((SEED_DIR / "stores.yml").read_text(encoding="utf-8"))["stores"]
    tenant = yaml.safe_load((SEED_DIR / "tenant.yml").read_text(encoding="utf-8"))
    services = [
        {**service, "business": business["code"]}
        for business in tenant["businesses"]
        for service in business.get("services") or []
    ]
    return list(stores), services


def _database_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
    try:
        from sqlalchemy import select
        from sqlalchemy.exc import SQLAlchemyError

        from crm.db import get_read_only_sessionmaker
        from crm.models.tenant import Service, Store
    except ImportError:  # pragma: no cover - the app env always has them
        return None
    try:
        with get_read_only_sessionmaker()() as session:
            stores = [
                {"code": s.code, "business": s.business.code, "name": s.name, "city": s.city, "district": s.district}
                for s in session.scalars(select(Store).where(Store.active))
            ]
            services = [
                {"code": s.code, "business": s.business.code, "name": s.name}
                for s in session.scalars(select(Service).where(Service.active))
            ]
    except SQLAlchemyError as error:
        logger.info("CRM database not readable (%s): exporting the seed data", type(error).__name__)
        return None
    return (stores, services) if stores else None


def export(path: Path = EXPORT_PATH, seed_only: bool = False) -> Path:
    rows = None if seed_only else _database_rows()
    source = "database"
    if rows is None:
        rows, source = _seed_rows(), "seed"
    vocabulary_module = _vocabulary_module()
    policy = yaml.safe_load(BOOKING_POLICY.read_text(encoding="utf-8"))
    vocabulary = vocabulary_module.build_vocabulary(*rows, vocabulary_module.booking_words_from_policy(policy))
    vocabulary["source"] = source
    text = json.dumps(vocabulary, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:  # unchanged file: same fingerprint
        path.write_text(text, encoding="utf-8")
    logger.info("NLU entity vocabulary from the %s: %s", source, path)
    return path


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed-only", action="store_true")
    export(seed_only=parser.parse_args().seed_only)
