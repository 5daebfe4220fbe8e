"""Customer and tier look-ups."""

from __future__ import annotations

from sqlalchemy import select

from crm.models import Customer, TierServiceLevel
from crm.repositories.base import Repository


class CustomerRepository(Repository):
    def get(self, customer_id: int) -> Customer | None:
        return self.session.get(Customer, customer_id)

    def get_by_mobile(self, mobile: str) -> Customer | None:
        return self.session.scalar(select(Customer).where(Customer.mobile == mobile))

    def get_by_web_user_id(self, web_user_id: str) -> Customer | None:
        return self.session.scalar(select(Customer).where(Customer.web_user_id == web_user_id))

    def get_by_wechat_openid(self, openid: str) -> Customer | None:
        return self.session.scalar(select(Customer).where(Customer.wechat_openid == openid))


class TierRepository(Repository):
    def get(self, tier: str) -> TierServiceLevel | None:
        return self.session.get(TierServiceLevel, tier)

    def list_all(self) -> list[TierServiceLevel]:
        return list(self.session.scalars(select(TierServiceLevel).order_by(TierServiceLevel.queue_priority.desc())))
