"""All CRM tables; import models from here (`from crm.models import Customer`)."""

from crm.models.base import Base, TimestampMixin
from crm.models.bookings import Booking
from crm.models.content import ContentVersion
from crm.models.conversations import Conversation, ConversationOwnerChange, Message
from crm.models.customers import Customer, TierChange, TierServiceLevel
from crm.models.orders import Order, OrderEvent, OrderItem
from crm.models.pending import PendingBotTurn
from crm.models.sequences import NumberSequence
from crm.models.support import (
    Agent,
    CompensationOffer,
    Complaint,
    CsatResponse,
    Escalation,
    EscalationNote,
    ServiceDesk,
    StaffAccount,
    SupervisorTask,
)
from crm.models.tenant import Business, FaqEntry, Product, Service, Store
from crm.models.training import ModelDeployment, TrainedModel, TrainingJob
from crm.models.wechat import (
    WeChatAccessToken,
    WeChatBindingCode,
    WeChatDeliveryFailure,
    WeChatFollower,
    WeChatInbound,
    WeChatOfferedChoices,
)

__all__ = [
    "Agent",
    "Base",
    "Booking",
    "Business",
    "CompensationOffer",
    "Complaint",
    "ContentVersion",
    "Conversation",
    "ConversationOwnerChange",
    "CsatResponse",
    "Customer",
    "Escalation",
    "EscalationNote",
    "FaqEntry",
    "Message",
    "ModelDeployment",
    "NumberSequence",
    "Order",
    "OrderEvent",
    "OrderItem",
    "PendingBotTurn",
    "Product",
    "Service",
    "ServiceDesk",
    "StaffAccount",
    "Store",
    "SupervisorTask",
    "TierChange",
    "TierServiceLevel",
    "TimestampMixin",
    "TrainedModel",
    "TrainingJob",
    "WeChatAccessToken",
    "WeChatBindingCode",
    "WeChatDeliveryFailure",
    "WeChatFollower",
    "WeChatInbound",
    "WeChatOfferedChoices",
]
