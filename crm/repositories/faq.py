"""FAQ answer look-ups."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from crm.models import FaqEntry
from crm.repositories.base import Repository


class FaqRepository(Repository):
    def candidates(self, key: str, *, business_code: str | None, store_id: int | None) -> list[FaqEntry]:
        """Active rows for `key` that could answer in this scope: general, the business's and the store's."""
        business_match = or_(FaqEntry.business_code.is_(None), FaqEntry.business_code == business_code)
        store_match = or_(FaqEntry.store_id.is_(None), FaqEntry.store_id == store_id)
        statement = (
            select(FaqEntry)
            .options(joinedload(FaqEntry.store))
            .where(FaqEntry.key == key, FaqEntry.active.is_(True), business_match, store_match)
            .order_by(FaqEntry.id)
        )
        return list(self.session.scalars(statement))

    def keys(self) -> list[str]:
        return list(
            self.session.scalars(
                select(FaqEntry.key).where(FaqEntry.active.is_(True)).distinct().order_by(FaqEntry.key)
            )
        )

    def general_entries(self, keys: list[str]) -> list[FaqEntry]:
        """The active general (not business- or store-specific) rows for these keys."""
        statement = (
            select(FaqEntry)
            .where(
                FaqEntry.key.in_(keys),
                FaqEntry.active.is_(True),
                FaqEntry.business_code.is_(None),
                FaqEntry.store_id.is_(None),
            )
            .order_by(FaqEntry.id)
        )
        return list(self.session.scalars(statement))

    def key_for_question(self, question: str) -> str | None:
        """The key of an active row whose canonical question is exactly `question`."""
        return self.session.scalar(
            select(FaqEntry.key).where(FaqEntry.question_zh == question, FaqEntry.active.is_(True)).limit(1)
        )
