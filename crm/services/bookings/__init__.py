"""Bookings, split by concern: `policy` (the data file), `kinds` (appointment, stay, table), `planning` (check a
draft against the store), `manage` (read, create, modify, cancel), `schemas` (what goes in and out).

Callers use the names re-exported here: `from crm.services import bookings as booking_service`.
"""

from crm.services.bookings.manage import (
    booking_idempotency_key,
    cancel_booking,
    cancellation_terms,
    create_booking,
    find_or_create_customer,
    get_booking,
    list_upcoming_bookings,
    modify_booking,
    preview_booking_change,
)
from crm.services.bookings.planning import check_booking, planned_service, service_names
from crm.services.bookings.schemas import (
    BookingDataError,
    BookingDraft,
    BookingOut,
    BookingProblem,
    BookingResult,
    CancellationOut,
    PlannedService,
    ProblemCode,
)

__all__ = [
    "BookingDataError",
    "BookingDraft",
    "BookingOut",
    "BookingProblem",
    "BookingResult",
    "CancellationOut",
    "PlannedService",
    "ProblemCode",
    "booking_idempotency_key",
    "cancel_booking",
    "cancellation_terms",
    "check_booking",
    "create_booking",
    "find_or_create_customer",
    "get_booking",
    "list_upcoming_bookings",
    "modify_booking",
    "planned_service",
    "preview_booking_change",
    "service_names",
]
