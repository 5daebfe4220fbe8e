"""The tenant: businesses, their stores, services, products and FAQ answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Numeric, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.models.base import Base, TimestampMixin


class Business(TimestampMixin, Base):
    __tablename__ = "business"
    # Any code: which businesses exist, and their booking kind, is data (policy/bookings.yml, migration 0008).

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(String(64))
    description_zh: Mapped[str | None] = mapped_column(Text)

    stores: Mapped[list[Store]] = relationship(back_populates="business", order_by="Store.id")


class Store(TimestampMixin, Base):
    __tablename__ = "store"
    __table_args__ = (
        CheckConstraint("slot_minutes > 0", name="slot_minutes_positive"),
        CheckConstraint("capacity_per_slot > 0", name="capacity_per_slot_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    city: Mapped[str] = mapped_column(String(32), index=True)
    district: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str] = mapped_column(String(32))
    # {"mon": [["10:00", "22:00"]], ..., "sun": [...]}: one or more open periods per weekday.
    opening_hours: Mapped[dict[str, Any]]
    hours_text_zh: Mapped[str] = mapped_column(String(128))
    slot_minutes: Mapped[int]
    capacity_per_slot: Mapped[int]
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # Store facilities such as parking or wifi, free-form data for answers.
    features: Mapped[dict[str, Any] | None]
    active: Mapped[bool] = mapped_column(default=True, server_default=true())

    business: Mapped[Business] = relationship(back_populates="stores")


class Service(TimestampMixin, Base):
    __tablename__ = "service"
    __table_args__ = (
        UniqueConstraint("business_id", "code"),
        CheckConstraint("price >= 0", name="price_non_negative"),
        CheckConstraint("duration_minutes IS NULL OR duration_minutes > 0", name="duration_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    price_unit_zh: Mapped[str | None] = mapped_column(String(16))
    duration_minutes: Mapped[int | None]
    description: Mapped[str | None] = mapped_column(Text)
    # Kind-specific facts, e.g. a room's capacity or a private room's minimum spend.
    attributes: Mapped[dict[str, Any] | None]
    active: Mapped[bool] = mapped_column(default=True, server_default=true())

    business: Mapped[Business] = relationship()


class Product(TimestampMixin, Base):
    __tablename__ = "product"
    __table_args__ = (CheckConstraint("price >= 0", name="price_non_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("business.id"), index=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    category: Mapped[str] = mapped_column(String(32), index=True)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    sizes: Mapped[list[str] | None]
    color: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())


class FaqEntry(TimestampMixin, Base):
    """One answer; a store-specific row overrides a business-specific one, which overrides the general one."""

    __tablename__ = "faq_entry"
    __table_args__ = (
        CheckConstraint("confidence_threshold >= 0 AND confidence_threshold <= 1", name="confidence_threshold_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    business_code: Mapped[str | None] = mapped_column(ForeignKey("business.code"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("store.id"), index=True)
    question_zh: Mapped[str] = mapped_column(Text)
    answer_zh: Mapped[str] = mapped_column(Text)
    confidence_threshold: Mapped[float] = mapped_column(Float, default=0.6, server_default="0.6")
    active: Mapped[bool] = mapped_column(default=True, server_default=true())

    store: Mapped[Store | None] = relationship()
