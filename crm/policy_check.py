"""`python -m crm.policy_check`: load every policy file (policy/*.yml) the way the services do and report
each problem with its file and line; exit code 1 if any file is refused. Run it after editing a file."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from crm.policy import PolicyError
from crm.services.bookings.policy import load_booking_policy
from crm.services.canned_replies import load_canned_replies
from crm.services.complaint_rules import load_rules as load_complaint_rules
from crm.services.escalation_rules import load_escalation_rules
from crm.services.sentiment import load_sentiment_rules
from crm.services.tiers import load_tier_policy

logger = logging.getLogger("crm.policy_check")

LOADERS: dict[str, Callable[[Path | None], object]] = {
    "tiers.yml": load_tier_policy,
    "escalation.yml": load_escalation_rules,
    "sentiment.yml": load_sentiment_rules,
    "canned_replies.yml": load_canned_replies,
    "bookings.yml": load_booking_policy,
    "complaints.yml": load_complaint_rules,
}


def check(directory: Path | None = None, names: Iterable[str] | None = None) -> list[str]:
    """The problems of every policy file (or of `names`) in `directory` (default policy/); empty when all load."""
    problems = []
    for name, loader in LOADERS.items():
        if names is not None and name not in names:
            continue
        try:
            loader.__wrapped__(directory)  # type: ignore[attr-defined]  # bypass the per-process cache
        except PolicyError as error:
            problems.append(str(error))
    return problems


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    problems = check()
    for problem in problems:
        logger.error(problem)
    if not problems:
        logger.info("policy files OK: %s", ", ".join(LOADERS))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
