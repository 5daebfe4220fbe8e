"""Slot names of the booking forms (they match domain.yml) and the groups reset together."""

from __future__ import annotations

from actions import slots

BUSINESS = slots.BUSINESS
STORE = "booking_store"
SERVICE = "booking_service"
AREA = "booking_area"
DATE = "booking_date"
TIME = "booking_time"
NIGHTS = "booking_nights"
PLATE = "booking_plate"
PARTY = "party_size"
PHONE = "phone"
NAME = "booking_name"
NEW_CUSTOMER = "booking_new_customer"
CONFIRM = "booking_confirm"
BOOKING_ID = "booking_id"
CHANGE = "booking_change"
LAST_BOOKING = "last_booking"

BOOKING_SLOTS = (BUSINESS, STORE, SERVICE, AREA, DATE, TIME, NIGHTS, PLATE, PARTY, NAME, NEW_CUSTOMER, CONFIRM)
MANAGE_SLOTS = (BOOKING_ID, CHANGE, CONFIRM)
MAX_LISTED_BOOKINGS = 5
