"""Ops edits of the training inputs: every saved version of a document (a repository file by its path)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base
from crm.types import utcnow


class ContentVersion(Base):
    """One saved version of a document. Version 0 is the repository file and is never stored; the
    unique (path, number) pair is the optimistic lock: two saves from the same base cannot both land."""

    __tablename__ = "content_version"
    __table_args__ = (
        UniqueConstraint("path", "number"),
        CheckConstraint("number > 0 AND base_number >= 0 AND base_number < number", name="number_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Relative to the repository root, e.g. "data/nlu/faq.yml".
    path: Mapped[str] = mapped_column(String(255), index=True)
    number: Mapped[int]
    base_number: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    # Unified diff from the base version's text to this one.
    diff: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
