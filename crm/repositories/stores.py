"""Store look-ups."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from crm.models import Business, Store
from crm.repositories.base import Repository


def _active_stores() -> Select[tuple[Store]]:
    return select(Store).join(Store.business).options(joinedload(Store.business)).where(Store.active.is_(True))


class StoreRepository(Repository):
    def get_by_code(self, code: str) -> Store | None:
        return self.session.scalar(_active_stores().where(Store.code == code))

    def list_active(self, *, city: str | None = None, business_code: str | None = None) -> list[Store]:
        statement = _active_stores()
        if city is not None:
            statement = statement.where(Store.city == city)
        if business_code is not None:
            statement = statement.where(Business.code == business_code)
        return list(self.session.scalars(statement.order_by(Store.id)))

    def search(self, fragment: str, *, business_code: str | None = None) -> list[Store]:
        """Stores whose name, district or address contains `fragment` (e.g. '花果园')."""
        pattern = f"%{fragment}%"
        statement = _active_stores().where(
            Store.name.like(pattern) | Store.district.like(pattern) | Store.address.like(pattern)
        )
        if business_code is not None:
            statement = statement.where(Business.code == business_code)
        return list(self.session.scalars(statement.order_by(Store.id)))
