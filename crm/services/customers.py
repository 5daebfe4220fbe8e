"""Customer identity and service level."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.enums import CHANNELS
from crm.formatting import mask_mobile
from crm.models import Customer
from crm.repositories import CustomerRepository, TierRepository
from crm.schemas import CustomerOut, TierServiceLevelOut


def _customer_out(session: Session, customer: Customer) -> CustomerOut:
    tier = customer.effective_tier
    level = TierRepository(session).get(tier)
    return CustomerOut(
        id=customer.id,
        name=customer.name,
        gender=customer.gender,  # type: ignore[arg-type]
        masked_mobile=mask_mobile(customer.mobile),
        tier=tier,  # type: ignore[arg-type]
        tier_label_zh=level.label_zh if level is not None else tier,
        city=customer.city,
    )


def get_customer(session: Session, *, customer_id: int) -> CustomerOut | None:
    """The customer with this id, or None."""
    customer = CustomerRepository(session).get(customer_id)
    return _customer_out(session, customer) if customer is not None else None


def find_customer_by_channel_identity(session: Session, *, channel: str, channel_user_id: str) -> CustomerOut | None:
    """The customer bound to a channel user: web -> web_user_id, wechat -> wechat_openid; rest has none."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    repository = CustomerRepository(session)
    if channel == "web":
        customer = repository.get_by_web_user_id(channel_user_id)
    elif channel == "wechat":
        customer = repository.get_by_wechat_openid(channel_user_id)
    else:
        customer = None
    return _customer_out(session, customer) if customer is not None else None


def find_customer_by_mobile(session: Session, *, mobile: str) -> CustomerOut | None:
    """The customer registered with this mobile number, or None."""
    customer = CustomerRepository(session).get_by_mobile(mobile)
    return _customer_out(session, customer) if customer is not None else None


def get_tier_service_level(session: Session, *, tier: str) -> TierServiceLevelOut | None:
    """Queue priority and response-time targets of a tier."""
    level = TierRepository(session).get(tier)
    return TierServiceLevelOut.model_validate(level) if level is not None else None
