"""Shared repository behaviour: hold the session, flush on add, never commit."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from crm.models import Base

ModelT = TypeVar("ModelT", bound=Base)


class Repository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, obj: ModelT) -> ModelT:
        """Add `obj` and flush so its primary key and defaults are set; the caller's boundary commits."""
        self.session.add(obj)
        self.session.flush()
        return obj
