"""Allowed values of the CRM's enumerated columns (stored as strings with CHECK constraints)."""

from __future__ import annotations

from itertools import pairwise
from typing import Literal, get_args

BusinessCode = Literal["car_care", "menswear", "hotel", "restaurant"]
Tier = Literal["platinum", "gold", "iron", "lead"]
Gender = Literal["male", "female", "unknown"]
OrderStatus = Literal[
    "pending_payment",
    "paid",
    "shipped",
    "in_transit",
    "out_for_delivery",
    "delivered",
    "cancelled",
    "refund_requested",
    "refunded",
]
BookingStatus = Literal["confirmed", "modified", "cancelled", "completed", "no_show"]
DiningArea = Literal["hall", "private_room"]
ComplaintCategory = Literal[
    "service_attitude", "product_quality", "delivery", "billing", "hygiene", "facilities", "other"
]
ComplaintSeverity = Literal["normal", "high"]
ComplaintStatus = Literal["open", "in_progress", "resolved", "closed"]
EscalationStatus = Literal["queued", "assigned", "closed"]
EscalationOutcome = Literal["resolved", "ticket", "callback"]
ChurnStatus = Literal["active", "at_risk", "churned", "no_paid_activity"]
TierChangeKind = Literal["computed", "override", "override_cleared"]
CompensationKind = Literal["coupon", "points"]
StaffRole = Literal["agent", "supervisor", "ops"]
SupervisorTaskStatus = Literal["open", "done"]
Channel = Literal["web", "wechat", "rest"]
ConversationOwner = Literal["bot", "queue", "agent"]
ConversationStatus = Literal["open", "closed"]
# Why a conversation ended: an agent (or ops) closed it, or the customer was idle past CONVERSATION_IDLE_MINUTES.
ConversationCloseReason = Literal["agent", "idle"]
# Push channels (WeChat customer-service API, webhooks) track each outbound message; connection-bound ones don't.
DeliveryState = Literal["pending", "sending", "delivered", "failed"]
MessageDirection = Literal["in", "out"]
MessageSender = Literal["customer", "bot", "agent", "system"]

BUSINESS_CODES: tuple[str, ...] = get_args(BusinessCode)
TIERS: tuple[str, ...] = get_args(Tier)
GENDERS: tuple[str, ...] = get_args(Gender)
ORDER_STATUSES: tuple[str, ...] = get_args(OrderStatus)
BOOKING_STATUSES: tuple[str, ...] = get_args(BookingStatus)
DINING_AREAS: tuple[str, ...] = get_args(DiningArea)
COMPLAINT_CATEGORIES: tuple[str, ...] = get_args(ComplaintCategory)
COMPLAINT_SEVERITIES: tuple[str, ...] = get_args(ComplaintSeverity)
COMPLAINT_STATUSES: tuple[str, ...] = get_args(ComplaintStatus)
ESCALATION_STATUSES: tuple[str, ...] = get_args(EscalationStatus)
OPEN_ESCALATION_STATUSES: tuple[str, ...] = ("queued", "assigned")
ESCALATION_OUTCOMES: tuple[str, ...] = get_args(EscalationOutcome)
CHURN_STATUSES: tuple[str, ...] = get_args(ChurnStatus)
TIER_CHANGE_KINDS: tuple[str, ...] = get_args(TierChangeKind)
COMPENSATION_KINDS: tuple[str, ...] = get_args(CompensationKind)
STAFF_ROLES: tuple[str, ...] = get_args(StaffRole)
SUPERVISOR_TASK_STATUSES: tuple[str, ...] = get_args(SupervisorTaskStatus)
CHANNELS: tuple[str, ...] = get_args(Channel)
CONVERSATION_OWNERS: tuple[str, ...] = get_args(ConversationOwner)
CONVERSATION_STATUSES: tuple[str, ...] = get_args(ConversationStatus)
CONVERSATION_CLOSE_REASONS: tuple[str, ...] = get_args(ConversationCloseReason)
DELIVERY_STATES: tuple[str, ...] = get_args(DeliveryState)
MESSAGE_DIRECTIONS: tuple[str, ...] = get_args(MessageDirection)
MESSAGE_SENDERS: tuple[str, ...] = get_args(MessageSender)

# Which order status may follow which; every timeline starts at pending_payment.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending_payment": frozenset({"paid", "cancelled"}),
    "paid": frozenset({"shipped", "delivered", "cancelled", "refund_requested"}),
    "shipped": frozenset({"in_transit", "refund_requested"}),
    "in_transit": frozenset({"in_transit", "out_for_delivery", "refund_requested"}),  # one event per hub scan
    "out_for_delivery": frozenset({"delivered"}),
    "delivered": frozenset({"refund_requested"}),
    "cancelled": frozenset(),
    "refund_requested": frozenset({"refunded"}),
    "refunded": frozenset(),
}
SHIPPED_STATUSES: frozenset[str] = frozenset({"shipped", "in_transit", "out_for_delivery"})


def is_valid_order_timeline(statuses: list[str]) -> bool:
    """True when `statuses` starts at pending_payment and follows ORDER_TRANSITIONS step by step."""
    if not statuses or statuses[0] != "pending_payment":
        return False
    return all(after in ORDER_TRANSITIONS[before] for before, after in pairwise(statuses))


# Keys of a store's opening_hours (crm/models/tenant.py), Monday first like date.weekday().
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
