"""Data access: one repository per aggregate; select() + session.scalar(s); flush only, never commit."""

from crm.repositories.conversations import ConversationRepository, MessageRepository
from crm.repositories.customers import CustomerRepository, TierRepository
from crm.repositories.faq import FaqRepository
from crm.repositories.orders import OrderRepository
from crm.repositories.stores import StoreRepository

__all__ = [
    "ConversationRepository",
    "CustomerRepository",
    "FaqRepository",
    "MessageRepository",
    "OrderRepository",
    "StoreRepository",
    "TierRepository",
]
