"""Slot names shared by several actions (they match domain.yml)."""

CUSTOMER_ID = "customer_id"
CUSTOMER_NAME = "customer_name"
CUSTOMER_TITLE = "customer_title"
CUSTOMER_TIER = "customer_tier"
CUSTOMER_IDENTIFIED = "customer_identified"
PROFILE_SLOTS = (CUSTOMER_ID, CUSTOMER_NAME, CUSTOMER_TITLE, CUSTOMER_TIER, CUSTOMER_IDENTIFIED)

BUSINESS = "business"
SESSION_STARTED_METADATA = "session_started_metadata"
