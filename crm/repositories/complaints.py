"""Complaint look-ups and the related orders and bookings a complaint may point to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select

from crm.models import Booking, Complaint, Customer, Order
from crm.repositories.base import Repository

OPEN_STATUSES = ("open", "in_progress")


class ComplaintRepository(Repository):
    def get_by_ticket_number(self, ticket_number: str) -> Complaint | None:
        return self.session.scalar(select(Complaint).where(Complaint.ticket_number == ticket_number))

    def get_by_idempotency_key(self, key: str) -> Complaint | None:
        return self.session.scalar(select(Complaint).where(Complaint.idempotency_key == key))

    def find_by_fingerprints(self, fingerprints: list[str], *, since: datetime) -> Complaint | None:
        """The earliest complaint carrying one of `fingerprints`, created at or after `since`."""
        return self.session.scalar(
            select(Complaint)
            .where(Complaint.fingerprint.in_(fingerprints), Complaint.created_at >= since)
            .order_by(Complaint.created_at, Complaint.id)
            .limit(1)
        )

    def count_recent_for_subject(self, *, customer_id: int | None, mobile: str | None, since: datetime) -> int:
        """Complaints by this customer or from this contact mobile created at or after `since`."""
        matches = []
        if customer_id is not None:
            matches.append(Complaint.customer_id == customer_id)
        if mobile:
            matches.append(Complaint.contact_mobile == mobile)
        if not matches:
            return 0
        statement = select(func.count()).select_from(Complaint).where(or_(*matches), Complaint.created_at >= since)
        return int(self.session.scalar(statement) or 0)

    def list_for_customer(self, customer_id: int, *, statuses: tuple[str, ...], limit: int) -> list[Complaint]:
        """The customer's newest complaints in `statuses`."""
        return list(
            self.session.scalars(
                select(Complaint)
                .where(Complaint.customer_id == customer_id, Complaint.status.in_(statuses))
                .order_by(Complaint.created_at.desc(), Complaint.id.desc())
                .limit(limit)
            )
        )

    def get_order_with_owner_mobile(self, order_number: str) -> tuple[Order, str] | None:
        row = self.session.execute(
            select(Order, Customer.mobile)
            .join(Customer, Customer.id == Order.customer_id)
            .where(Order.order_number == order_number)
        ).first()
        return (row[0], row[1]) if row is not None else None

    def get_booking_with_owner_mobile(self, booking_number: str) -> tuple[Booking, str] | None:
        row = self.session.execute(
            select(Booking, Customer.mobile)
            .join(Customer, Customer.id == Booking.customer_id)
            .where(Booking.booking_number == booking_number)
        ).first()
        return (row[0], row[1]) if row is not None else None
