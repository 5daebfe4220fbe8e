"""Order look-ups with items and timeline loaded eagerly."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload, selectinload

from crm.models import Order
from crm.repositories.base import Repository


def _with_details() -> Select[tuple[Order]]:
    return select(Order).options(
        joinedload(Order.business),
        joinedload(Order.store),
        selectinload(Order.items),
        selectinload(Order.events),
    )


class OrderRepository(Repository):
    def get_by_number(self, order_number: str) -> Order | None:
        return self.session.scalar(_with_details().where(Order.order_number == order_number))

    def list_for_customer(self, customer_id: int, limit: int) -> list[Order]:
        statement = (
            _with_details()
            .where(Order.customer_id == customer_id)
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(statement))
