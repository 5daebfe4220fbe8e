"""The one ownership rule for orders, bookings and complaints.

A row is the requester's when the channel identified them as its customer, or (for an anonymous
requester) when the mobile they give is one on the row: the customer's, or an order's recipient. One
function decides, so "not found" and "not yours" read the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Requester:
    customer_id: int | None = None
    mobile: str | None = None

    def may_see(self, owner_id: int | None, *owner_mobiles: str | None) -> bool:
        if self.customer_id is not None:
            return owner_id == self.customer_id
        return self.mobile is not None and self.mobile in owner_mobiles
