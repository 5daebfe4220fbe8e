"""Booking look-ups: by number, idempotency key, customer, and the bookings that occupy a store's time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, select

from crm.models import Booking
from crm.repositories.base import Repository

ACTIVE_STATUSES = ("confirmed", "modified")


def _bookings() -> Select[tuple[Booking]]:
    return select(Booking)


class BookingRepository(Repository):
    def get_by_number(self, booking_number: str, *, for_update: bool = False) -> Booking | None:
        statement = _bookings().where(Booking.booking_number == booking_number)
        if for_update:
            statement = statement.with_for_update()
        return self.session.scalar(statement)

    def get_by_idempotency_key(self, key: str) -> Booking | None:
        return self.session.scalar(_bookings().where(Booking.idempotency_key == key))

    def find_active_twin(
        self, *, customer_id: int, store_id: int, service_id: int, start_at: datetime, plate_number: str | None
    ) -> Booking | None:
        """An active booking of the same customer for the same thing at the same time (made in another conversation)."""
        statement = _bookings().where(
            Booking.customer_id == customer_id,
            Booking.store_id == store_id,
            Booking.service_id == service_id,
            Booking.start_at == start_at,
            Booking.status.in_(ACTIVE_STATUSES),
        )
        if plate_number is not None:
            statement = statement.where(Booking.plate_number == plate_number)
        return self.session.scalar(statement.order_by(Booking.id).limit(1))

    def list_upcoming_for_customer(self, customer_id: int, now: datetime, limit: int) -> list[Booking]:
        """Active bookings that have not ended yet, soonest first."""
        statement = (
            _bookings()
            .where(
                Booking.customer_id == customer_id,
                Booking.status.in_(ACTIVE_STATUSES),
                Booking.end_at > now,
            )
            .order_by(Booking.start_at, Booking.id)
            .limit(limit)
        )
        return list(self.session.scalars(statement))

    def list_overlapping(
        self,
        store_id: int,
        start_at: datetime,
        end_at: datetime,
        *,
        service_ids: list[int] | None = None,
        area: str | None = None,
        exclude_id: int | None = None,
    ) -> list[Booking]:
        """Active bookings of a store whose [start, end) overlaps [start_at, end_at)."""
        statement = select(Booking).where(
            Booking.store_id == store_id,
            Booking.status.in_(ACTIVE_STATUSES),
            Booking.start_at < end_at,
            Booking.end_at > start_at,
        )
        if service_ids is not None:
            statement = statement.where(Booking.service_id.in_(service_ids))
        if area is not None:
            statement = statement.where(Booking.area == area)
        if exclude_id is not None:
            statement = statement.where(Booking.id != exclude_id)
        return list(self.session.scalars(statement))
