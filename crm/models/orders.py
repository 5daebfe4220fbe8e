"""Orders, their line items and their status timeline."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.enums import ORDER_STATUSES
from crm.models.base import Base, TimestampMixin, enum_check
from crm.models.tenant import Business, Store
from crm.types import utcnow


class Order(TimestampMixin, Base):
    """An order; `store_id` is NULL for the online shop."""

    __tablename__ = "order"
    __table_args__ = (
        enum_check("status", ORDER_STATUSES),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_number: Mapped[str] = mapped_column(String(14), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    status: Mapped[str] = mapped_column(String(24), index=True)
    carrier: Mapped[str | None] = mapped_column(String(32))
    tracking_number: Mapped[str | None] = mapped_column(String(32), index=True)
    recipient_name: Mapped[str | None] = mapped_column(String(32))
    recipient_mobile: Mapped[str | None] = mapped_column(String(11))
    shipping_province: Mapped[str | None] = mapped_column(String(32))
    shipping_city: Mapped[str | None] = mapped_column(String(32))
    shipping_district: Mapped[str | None] = mapped_column(String(32))
    shipping_address: Mapped[str | None] = mapped_column(String(255))
    estimated_delivery_date: Mapped[date | None]
    placed_at: Mapped[datetime] = mapped_column(index=True)

    business: Mapped[Business] = relationship()
    store: Mapped[Store | None] = relationship()
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", order_by="[OrderEvent.occurred_at, OrderEvent.id]", cascade="all, delete-orphan"
    )


class OrderItem(Base):
    __tablename__ = "order_item"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
        CheckConstraint("product_id IS NULL OR service_id IS NULL", name="one_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    name: Mapped[str] = mapped_column(String(128))
    size: Mapped[str | None] = mapped_column(String(16))
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Numeric(10, 2))

    order: Mapped[Order] = relationship(back_populates="items")


class OrderEvent(Base):
    """One step of an order's timeline; the latest event's status equals the order's status."""

    __tablename__ = "order_event"
    __table_args__ = (enum_check("status", ORDER_STATUSES),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(String(255))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)

    order: Mapped[Order] = relationship(back_populates="events")
