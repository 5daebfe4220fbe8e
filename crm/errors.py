"""Errors raised by crm.services for callers to map (e.g. to HTTP 404 or a bot fallback)."""

from __future__ import annotations


class NotFoundError(LookupError):
    """A referenced row (conversation, message, …) does not exist."""
