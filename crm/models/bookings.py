"""Bookings: car care slots, tailoring appointments, hotel stays and restaurant tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.enums import BOOKING_STATUSES, DINING_AREAS
from crm.models.base import Base, TimestampMixin, enum_check


class Booking(TimestampMixin, Base):
    __tablename__ = "booking"
    __table_args__ = (
        enum_check("status", BOOKING_STATUSES),
        enum_check("area", DINING_AREAS),
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        CheckConstraint("party_size IS NULL OR party_size > 0", name="party_size_positive"),
        CheckConstraint("nights IS NULL OR nights > 0", name="nights_positive"),
        Index("ix_booking_store_id_start_at", "store_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_number: Mapped[str] = mapped_column(String(14), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("store.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    party_size: Mapped[int | None]
    room_type: Mapped[str | None] = mapped_column(String(32))
    nights: Mapped[int | None]
    plate_number: Mapped[str | None] = mapped_column(String(16))
    area: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="confirmed", server_default="confirmed")
    notes: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)
