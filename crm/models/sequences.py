"""Per-day counters behind the DD/TS/YY business numbers."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base


class NumberSequence(Base):
    __tablename__ = "number_sequence"
    __table_args__ = (CheckConstraint("last_value >= 0", name="last_value_non_negative"),)

    prefix: Mapped[str] = mapped_column(String(4), primary_key=True)
    day: Mapped[str] = mapped_column(String(8), primary_key=True)  # local date, yyyymmdd
    last_value: Mapped[int] = mapped_column(default=0)
