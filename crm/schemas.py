"""DTOs returned by crm.services: plain pydantic models, never live ORM objects."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm.enums import (
    Channel,
    ConversationCloseReason,
    ConversationOwner,
    ConversationStatus,
    DeliveryState,
    Gender,
    MessageDirection,
    MessageSender,
    OrderStatus,
    Tier,
)


class Dto(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class CustomerOut(Dto):
    id: int
    name: str
    gender: Gender
    masked_mobile: str
    tier: Tier  # effective tier: the override wins
    tier_label_zh: str
    city: str | None


class TierServiceLevelOut(Dto):
    tier: Tier
    label_zh: str
    queue_priority: int
    first_response_seconds: int
    complaint_response_hours_normal: int
    complaint_response_hours_high: int


class ConversationOut(Dto):
    id: int
    channel: Channel
    channel_user_id: str
    customer_id: int | None
    owner: ConversationOwner
    assigned_agent_id: int | None = None
    status: ConversationStatus
    rasa_sender_id: str
    started_at: datetime
    last_message_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: ConversationCloseReason | None = None


class OwnerChangeOut(Dto):
    id: int
    conversation_id: int
    from_owner: ConversationOwner
    to_owner: ConversationOwner
    agent_id: int | None
    reason: str
    actor: str
    created_at: datetime


class MessageOut(Dto):
    id: int
    conversation_id: int
    direction: MessageDirection
    sender: MessageSender
    text: str
    payload: dict[str, Any] | None
    client_message_id: str | None
    reply_to_id: int | None
    agent_id: int | None = None
    # The agent's display name, for the customer ("客服李娜").
    agent_name: str | None = None
    created_at: datetime
    delivery_state: DeliveryState | None = None


class OutgoingMessage(Dto):
    """One reply to store: text plus optional structured payload (buttons, images, custom)."""

    text: str = ""
    payload: dict[str, Any] | None = None


class OrderItemOut(Dto):
    name: str
    size: str | None
    quantity: int
    unit_price: Decimal


class OrderEventOut(Dto):
    status: OrderStatus
    note: str | None
    occurred_at: datetime


class OrderOut(Dto):
    order_number: str
    customer_id: int
    business_code: str  # any business in the CRM (policy/bookings.yml), not only the demo four
    store_code: str | None
    store_name: str | None  # None: online shop
    status: OrderStatus
    amount: Decimal
    carrier: str | None
    tracking_number: str | None
    masked_recipient_name: str | None
    masked_recipient_mobile: str | None
    shipping_city: str | None
    estimated_delivery_date: date | None
    placed_at: datetime
    items: list[OrderItemOut]
    timeline: list[OrderEventOut]  # oldest first; the last event's status is `status`


class StoreOut(Dto):
    code: str
    name: str
    business_code: str  # any business in the CRM (policy/bookings.yml), not only the demo four
    city: str
    district: str
    address: str
    phone: str
    hours_text_zh: str
    opening_hours: dict[str, list[list[str]]]
    slot_minutes: int
    capacity_per_slot: int
    latitude: float | None
    longitude: float | None
    features: dict[str, Any] = Field(default_factory=dict)


class FaqAnswerOut(Dto):
    key: str
    scope: Literal["store", "business", "general"]
    business_code: str | None
    store_code: str | None
    question_zh: str
    answer_zh: str
    confidence_threshold: float
