"""Store directory: locations, phones and opening hours."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.models import Store
from crm.repositories import StoreRepository
from crm.schemas import StoreOut


def _store_out(store: Store) -> StoreOut:
    return StoreOut(
        code=store.code,
        name=store.name,
        business_code=store.business.code,
        city=store.city,
        district=store.district,
        address=store.address,
        phone=store.phone,
        hours_text_zh=store.hours_text_zh,
        opening_hours=store.opening_hours,
        slot_minutes=store.slot_minutes,
        capacity_per_slot=store.capacity_per_slot,
        latitude=store.latitude,
        longitude=store.longitude,
        features=store.features or {},
    )


def list_stores(session: Session, *, city: str | None = None, business_code: str | None = None) -> list[StoreOut]:
    """Active stores, optionally of one city and/or business."""
    return [_store_out(store) for store in StoreRepository(session).list_active(city=city, business_code=business_code)]


def find_stores(session: Session, *, name_fragment: str, business_code: str | None = None) -> list[StoreOut]:
    """Active stores whose name, district or address contains `name_fragment` (e.g. '花果园')."""
    fragment = name_fragment.strip()
    if not fragment:
        return []
    return [_store_out(store) for store in StoreRepository(session).search(fragment, business_code=business_code)]


def get_store(session: Session, *, code: str) -> StoreOut | None:
    """The active store with this code, or None."""
    store = StoreRepository(session).get_by_code(code)
    return _store_out(store) if store is not None else None
