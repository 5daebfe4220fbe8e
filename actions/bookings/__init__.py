"""Bookings for every business in policy/bookings.yml: the booking form (`form` reads and checks, `book` asks,
summarises and writes), change and cancel (`manage`), look up (`status`); `describe` says what the forms
know, `reading` reads free text, `names` holds the slot names.

The modules are split by concern, not by business: a business's kind, asked slots, re-ask rules and
responses are data, and its calendar rules live in crm/services/bookings/kinds.py.
"""

from actions.bookings.book import (
    ActionAskBookingConfirm,
    ActionAskBookingService,
    ActionAskBookingStore,
    ActionStopBooking,
    ActionSubmitBooking,
)
from actions.bookings.form import ValidateBookingForm
from actions.bookings.manage import (
    ActionAskBookingId,
    ActionAskCancelConfirm,
    ActionAskModifyConfirm,
    ActionCancelBooking,
    ActionModifyBooking,
    ValidateCancelBookingForm,
    ValidateModifyBookingForm,
)
from actions.bookings.names import LAST_BOOKING
from actions.bookings.reading import find_plate, names_a_change, names_a_visit
from actions.bookings.status import ActionBookingStatus, ValidateBookingStatusForm

__all__ = [
    "LAST_BOOKING",
    "ActionAskBookingConfirm",
    "ActionAskBookingId",
    "ActionAskBookingService",
    "ActionAskBookingStore",
    "ActionAskCancelConfirm",
    "ActionAskModifyConfirm",
    "ActionBookingStatus",
    "ActionCancelBooking",
    "ActionModifyBooking",
    "ActionStopBooking",
    "ActionSubmitBooking",
    "ValidateBookingForm",
    "ValidateBookingStatusForm",
    "ValidateCancelBookingForm",
    "ValidateModifyBookingForm",
    "find_plate",
    "names_a_change",
    "names_a_visit",
]
