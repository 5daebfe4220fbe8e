"""Errors raised by crm.services for callers to map (e.g. to HTTP 404 or a bot fallback)."""

from __future__ import annotations


class NotFoundError(LookupError):
    """A referenced row (conversation, message, …) does not exist."""


class OwnershipConflictError(RuntimeError):
    """The conversation's owner changed under the caller (someone else claimed it) or the move is not allowed."""
