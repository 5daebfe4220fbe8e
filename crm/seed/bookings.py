"""Generate bookings for all four businesses, in the past (completed, no-show, cancelled) and upcoming."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from crm.enums import WEEKDAYS
from crm.models import Booking, Service, Store
from crm.seed.clock import SeedClock
from crm.seed.config import GeneratorData
from crm.seed.customers import CustomerDraft
from crm.seed.tenant import TenantRefs

PAST_STATUSES = {"completed": 0.75, "no_show": 0.08, "cancelled": 0.17}
FUTURE_STATUSES = {"confirmed": 0.7, "modified": 0.15, "cancelled": 0.15}


class BookingFactory:
    def __init__(
        self,
        rng: random.Random,
        config: GeneratorData,
        refs: TenantRefs,
        clock: SeedClock,
        check_in: str,
        check_out: str,
    ) -> None:
        self.rng = rng
        self.config = config
        self.refs = refs
        self.clock = clock
        self.check_in = check_in
        self.check_out = check_out

    def random_bookings(self, drafts: list[CustomerDraft]) -> list[Booking]:
        regular = [draft for draft in drafts if draft.demo is None]
        weights = [draft.order_weight for draft in regular]
        businesses = list(self.config.booking_business_weights)
        business_weights = list(self.config.booking_business_weights.values())
        bookings = []
        for _ in range(self.config.counts.bookings):
            draft = self.rng.choices(regular, weights)[0]
            business = self.rng.choices(businesses, business_weights)[0]
            if self.rng.random() < self.config.booking_future_share:
                day = self.clock.anchor + timedelta(days=self.rng.randint(1, 21))
            else:
                day = self.clock.anchor - timedelta(days=self.rng.randint(1, 180))
            bookings.append(self.build(draft, business, day))
        return bookings

    def demo_bookings(self, drafts: list[CustomerDraft]) -> list[Booking]:
        return [
            self.build(
                draft,
                booking.business,
                self.clock.anchor + timedelta(days=booking.days_from_anchor),
                "confirmed",
            )
            for draft in drafts
            if draft.demo is not None
            for booking in draft.demo.bookings
        ]

    def build(self, draft: CustomerDraft, business: str, day: date, status: str | None = None) -> Booking:
        rng = self.rng
        customer = draft.customer
        store = self._store(business, customer.city)
        booking = Booking(customer_id=customer.id, business_id=self.refs.businesses[business].id, store_id=store.id)
        if business == "hotel":
            self._hotel(booking, day)
        elif business == "restaurant":
            self._restaurant(booking, store, day)
        else:
            categories = ("tailoring",) if business == "menswear" else ("wash", "care", "maintenance")
            service = rng.choice(self.refs.services_in(business, *categories))
            booking.service_id = service.id
            booking.start_at = self._slot(store, day, service.duration_minutes or 60)
            booking.end_at = booking.start_at + timedelta(minutes=service.duration_minutes or 60)
            if business == "car_care":
                booking.plate_number = self._plate(store.city)
        future = booking.start_at >= self.clock.now
        weights = FUTURE_STATUSES if future else PAST_STATUSES
        booking.status = status or rng.choices(list(weights), list(weights.values()))[0]
        if future:
            created = self.clock.now - timedelta(days=rng.uniform(0.05, 10))
        else:
            created = booking.start_at - timedelta(days=rng.uniform(0.1, 14))
        booking.created_at = created
        changed = booking.status in ("modified", "cancelled", "no_show")
        latest = min(booking.start_at, self.clock.now)
        booking.updated_at = created + (latest - created) * rng.uniform(0.2, 0.9) if changed else created
        if booking.status == "no_show":
            booking.updated_at = booking.end_at
        if rng.random() < 0.25:
            booking.notes = rng.choice(self.config.booking_notes)
        return booking

    def _store(self, business: str, city: str | None) -> Store:
        stores = self.refs.stores_by_business[business]
        local = [store for store in stores if store.city == city]
        return self.rng.choice(local if local and self.rng.random() < 0.85 else stores)

    def _hotel(self, booking: Booking, day: date) -> None:
        rooms = self.refs.services_in("hotel", "room")
        room = self.rng.choices(rooms, [0.4, 0.3, 0.15, 0.15])[0]
        nights = self.rng.choices([1, 2, 3, 4], [0.5, 0.3, 0.15, 0.05])[0]
        max_guests = int((room.attributes or {}).get("max_guests", 2))
        booking.service_id = room.id
        booking.room_type = room.code
        booking.nights = nights
        booking.party_size = self.rng.randint(1, max_guests)
        booking.start_at = self.clock.at(day, self.check_in)
        booking.end_at = self.clock.at(day + timedelta(days=nights), self.check_out)

    def _restaurant(self, booking: Booking, store: Store, day: date) -> None:
        rng = self.rng
        party = rng.choices([2, 3, 4, 6, 8, 10, 12, 16], [0.2, 0.15, 0.25, 0.12, 0.1, 0.08, 0.06, 0.04])[0]
        rooms = [room for room in self.refs.services_in("restaurant", "private_room") if _fits(room, party)]
        if rooms and (party > 10 or rng.random() < 0.6):
            service = rooms[0]
            booking.area = "private_room"
        else:
            service = self.refs.service("restaurant", "hall")
            booking.area = "hall"
            party = min(party, int((service.attributes or {}).get("capacity_max", 10)))
        booking.service_id = service.id
        booking.party_size = party
        duration = service.duration_minutes or 120
        booking.start_at = self._slot(store, day, 90)
        booking.end_at = booking.start_at + timedelta(minutes=duration)

    def _slot(self, store: Store, day: date, minutes: int) -> datetime:
        """A slot start on the store's grid such that `minutes` fit before the period closes."""
        periods = store.opening_hours[WEEKDAYS[day.weekday()]]
        opening, closing = self.rng.choice(periods)
        start = self.clock.at(day, opening)
        latest = self.clock.at(day, closing) - timedelta(minutes=minutes)
        slots = int((latest - start) / timedelta(minutes=store.slot_minutes))
        return start + timedelta(minutes=store.slot_minutes * self.rng.randint(0, max(slots, 0)))

    def _plate(self, city: str) -> str:
        prefix = self.config.plate_prefixes.get(city, next(iter(self.config.plate_prefixes.values())))
        letters = self.config.plate_letters
        tail = "".join(
            str(self.rng.randrange(10)) if self.rng.random() < 0.75 else self.rng.choice(letters) for _ in range(5)
        )
        return f"{prefix}{tail}"


def _fits(room: Service, party: int) -> bool:
    attributes = room.attributes or {}
    return int(attributes.get("capacity_min", 1)) <= party <= int(attributes.get("capacity_max", 0))
