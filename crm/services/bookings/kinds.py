"""The three booking kinds: what a booking spans, when the store takes it, whether there is room, what else is free.

- `Appointment` (car care, tailoring): one service at a clock time; its duration on the store's slot grid,
  within one opening period; every booking of the store shares its per-slot capacity.
- `Stay` (hotel): nights in a room type, from the check-in time to the check-out time; each night counts
  against the room type's inventory and the hotel's capacity; when full, other free room types are offered.
- `Table` (restaurant): a party at a clock time; seating until the last-seating time; the shared area's
  tables share the per-slot capacity, private rooms are booked whole (the smallest that fits the party).

Which kind a business is, and its limits, are data (policy/bookings.yml, `policy.py`); nothing here
knows a business by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.enums import WEEKDAYS
from crm.models import Service, Store
from crm.repositories.bookings import BookingRepository
from crm.schemas import StoreOut
from crm.services.bookings.policy import BusinessPolicy, KindCode, local_tz
from crm.services.bookings.schemas import BookingDraft, BookingOut, BookingProblem

ALTERNATIVES = 3
SEARCH_DAYS = 7


@dataclass(frozen=True)
class Plan:
    """A draft made concrete: the store, the service (table, room type) and the span it occupies."""

    store: Store
    service: Service
    start_at: datetime
    end_at: datetime
    area: str | None = None
    nights: int | None = None
    room_type: str | None = None


def local_at(day: date, clock: str) -> datetime:
    hours, minutes = (int(part) for part in clock.split(":"))
    return datetime.combine(day, time(0, 0), tzinfo=local_tz()) + timedelta(hours=hours, minutes=minutes)


def opening_periods(store: Store | StoreOut, day: date) -> list[tuple[datetime, datetime]]:
    """The store's open periods on `day` (a store row or its DTO): the one reading of opening_hours."""
    return [
        (local_at(day, opening), local_at(day, closing))
        for opening, closing in store.opening_hours[WEEKDAYS[day.weekday()]]
    ]


class Occupancy:
    """Counts active bookings of one store in a time window, loaded once for many candidate slots."""

    def __init__(self, session: Session, store: Store, start: datetime, end: datetime, exclude_id: int | None) -> None:
        self.bookings = BookingRepository(session).list_overlapping(store.id, start, end, exclude_id=exclude_id)

    def count(
        self, start: datetime, end: datetime, *, service_ids: set[int] | None = None, area: str | None = None
    ) -> int:
        return sum(
            1
            for booking in self.bookings
            if booking.start_at < end
            and booking.end_at > start
            and (service_ids is None or booking.service_id in service_ids)
            and (area is None or booking.area == area)
        )

    def slots_free(self, store: Store, start: datetime, end: datetime, *, area: str | None = None) -> bool:
        """True when every slot of the store's grid in [start, end) is below the store's per-slot capacity."""
        window = timedelta(minutes=store.slot_minutes)
        slot_start = start
        while slot_start < end:
            if self.count(slot_start, min(slot_start + window, end), area=area) >= store.capacity_per_slot:
                return False
            slot_start += window
        return True


def _service(session: Session, store: Store, code: str | None, policy: BusinessPolicy) -> Service | None:
    if code is None or code not in policy.services:
        return None
    return session.scalar(select(Service).where(Service.business_id == store.business_id, Service.code == code))


def _attribute(service: Service, name: str, default: int) -> int:
    return int((service.attributes or {}).get(name, default))


class Kind(ABC):
    """The behaviour shared by every business of one kind."""

    code: ClassVar[KindCode]
    keeps_service_on_change: ClassVar[bool] = True  # False: the service follows from other fields (a table)
    # True: what is booked is the customer themselves (or their car), who cannot be in two places at once, so
    # the same booking made again from another conversation is the first one. Rooms and tables come in numbers.
    one_at_a_time: ClassVar[bool] = False

    @abstractmethod
    def candidates(
        self, session: Session, store: Store, draft: BookingDraft, policy: BusinessPolicy
    ) -> list[Plan] | BookingProblem:
        """The plans that would serve `draft`, preferred first, or why none can."""

    @abstractmethod
    def is_open(self, plan: Plan, policy: BusinessPolicy) -> bool:
        """True when the store takes a booking spanning the plan."""

    @abstractmethod
    def has_capacity(self, plan: Plan, policy: BusinessPolicy, occupancy: Occupancy) -> bool:
        """True when the plan's span has room."""

    def timing_problem(
        self, plan: Plan, policy: BusinessPolicy, occupancy: Occupancy, now: datetime
    ) -> BookingProblem | None:
        """A start in the past or inside the lead time, with free starts instead."""
        if plan.start_at < now:
            return BookingProblem(code="past", alternatives=self.free_starts(plan, policy, occupancy, now))
        if plan.start_at < now + timedelta(minutes=policy.min_lead_minutes):
            return BookingProblem(code="too_soon", alternatives=self.free_starts(plan, policy, occupancy, now))
        return None

    def when_full(
        self, session: Session, plan: Plan, policy: BusinessPolicy, occupancy: Occupancy, now: datetime
    ) -> BookingProblem:
        return BookingProblem(code="full", alternatives=self.free_starts(plan, policy, occupancy, now))

    def free_starts(self, plan: Plan, policy: BusinessPolicy, occupancy: Occupancy, now: datetime) -> list[datetime]:
        """Free starts on the store's slot grid, the requested day first, then the nearest to the request."""
        earliest = now + timedelta(minutes=policy.min_lead_minutes)
        requested_day = plan.start_at.astimezone(local_tz()).date()
        duration = plan.end_at - plan.start_at
        step = timedelta(minutes=plan.store.slot_minutes)
        candidates: list[datetime] = []
        for offset in range(SEARCH_DAYS):
            for opening, closing in opening_periods(plan.store, requested_day + timedelta(days=offset)):
                slot = opening
                while slot < closing:
                    trial = replace(plan, start_at=slot, end_at=slot + duration)
                    if slot >= earliest and self.is_open(trial, policy) and self.has_capacity(trial, policy, occupancy):
                        candidates.append(slot)
                    slot += step
        candidates.sort(
            key=lambda slot: (slot.astimezone(local_tz()).date() != requested_day, abs(slot - plan.start_at))
        )
        return sorted(candidates[:ALTERNATIVES])

    def service_kept_on_change(self, booking: BookingOut) -> str | None:
        """The service code a change starts from (None: chosen again from the changed party and area)."""
        return (booking.room_type or booking.service_code) if self.keeps_service_on_change else None


class Appointment(Kind):
    code = "appointment"
    one_at_a_time = True

    def candidates(
        self, session: Session, store: Store, draft: BookingDraft, policy: BusinessPolicy
    ) -> list[Plan] | BookingProblem:
        service = _service(session, store, draft.service_code, policy)
        if service is None:
            return BookingProblem(code="unknown_service")
        minutes = service.duration_minutes or store.slot_minutes
        return [Plan(store, service, draft.start_at, draft.start_at + timedelta(minutes=minutes))]

    def is_open(self, plan: Plan, policy: BusinessPolicy) -> bool:
        day = plan.start_at.astimezone(local_tz()).date()
        return any(
            opening <= plan.start_at and plan.end_at <= closing for opening, closing in opening_periods(plan.store, day)
        )

    def has_capacity(self, plan: Plan, policy: BusinessPolicy, occupancy: Occupancy) -> bool:
        return occupancy.slots_free(plan.store, plan.start_at, plan.end_at)


class Stay(Kind):
    code = "stay"

    def candidates(
        self, session: Session, store: Store, draft: BookingDraft, policy: BusinessPolicy
    ) -> list[Plan] | BookingProblem:
        service = _service(session, store, draft.service_code, policy)
        if service is None:
            return BookingProblem(code="unknown_service")
        nights = draft.nights or 1
        if not 1 <= nights <= (policy.max_nights or nights):
            return BookingProblem(code="nights_out_of_range", limit=policy.max_nights)
        max_guests = _attribute(service, "max_guests", 2)
        if draft.party_size is not None and draft.party_size > max_guests:
            return BookingProblem(code="party_too_large", limit=max_guests)
        return [self._plan(store, service, draft.start_at.astimezone(local_tz()).date(), nights, policy)]

    @staticmethod
    def _plan(store: Store, service: Service, day: date, nights: int, policy: BusinessPolicy) -> Plan:
        # BusinessPolicy guarantees a stay's check-in and check-out times.
        check_in, check_out = policy.check_in_time or "", policy.check_out_time or ""
        return Plan(
            store,
            service,
            local_at(day, check_in),
            local_at(day + timedelta(days=nights), check_out),
            nights=nights,
            room_type=service.code,
        )

    def timing_problem(
        self, plan: Plan, policy: BusinessPolicy, occupancy: Occupancy, now: datetime
    ) -> BookingProblem | None:
        """A stay is booked by the day: any check-in day from today on."""
        tz = local_tz()
        return BookingProblem(code="past") if plan.start_at.astimezone(tz).date() < now.astimezone(tz).date() else None

    def is_open(self, plan: Plan, policy: BusinessPolicy) -> bool:
        return True

    def has_capacity(self, plan: Plan, policy: BusinessPolicy, occupancy: Occupancy) -> bool:
        inventory = _attribute(plan.service, "inventory", plan.store.capacity_per_slot)
        night = plan.start_at
        while night < plan.end_at - timedelta(hours=12):
            night_end = night + timedelta(days=1)
            if occupancy.count(night, night_end, service_ids={plan.service.id}) >= inventory:
                return False
            if occupancy.count(night, night_end) >= plan.store.capacity_per_slot:
                return False
            night = night_end
        return True

    def when_full(
        self, session: Session, plan: Plan, policy: BusinessPolicy, occupancy: Occupancy, now: datetime
    ) -> BookingProblem:
        """The other room types free for the same nights."""
        free = []
        for code in policy.services:
            other = _service(session, plan.store, code, policy)
            if other is None or other.id == plan.service.id:
                continue
            if self.has_capacity(replace(plan, service=other, room_type=other.code), policy, occupancy):
                free.append(other.code)
        return BookingProblem(code="full", alternative_services=free)


class Table(Kind):
    code = "table"
    keeps_service_on_change = False

    def candidates(
        self, session: Session, store: Store, draft: BookingDraft, policy: BusinessPolicy
    ) -> list[Plan] | BookingProblem:
        party = draft.party_size or 0
        if party < policy.min_party_size:
            return BookingProblem(code="party_too_small", limit=policy.min_party_size)
        if policy.max_party_size is not None and party > policy.max_party_size:
            return BookingProblem(code="party_too_large", limit=policy.max_party_size)
        area = draft.area or policy.shared_area
        services = session.scalars(
            select(Service).where(
                Service.business_id == store.business_id, Service.category == area, Service.active.is_(True)
            )
        )
        fitting = sorted(
            (
                service
                for service in services
                if _attribute(service, "capacity_min", 1) <= party <= _attribute(service, "capacity_max", 10**6)
            ),
            key=lambda service: _attribute(service, "capacity_max", 0),
        )
        if not fitting:
            return BookingProblem(code="hall_too_small" if area == policy.shared_area else "no_room_for_party")
        return [
            Plan(
                store,
                table,
                draft.start_at,
                draft.start_at + timedelta(minutes=table.duration_minutes or store.slot_minutes),
                area=area,
            )
            for table in fitting
        ]

    def is_open(self, plan: Plan, policy: BusinessPolicy) -> bool:
        """Seating from opening until the last-seating time before closing."""
        day = plan.start_at.astimezone(local_tz()).date()
        last_seating = timedelta(minutes=policy.last_seating_minutes_before_close)
        return any(
            opening <= plan.start_at <= closing - last_seating for opening, closing in opening_periods(plan.store, day)
        )

    def has_capacity(self, plan: Plan, policy: BusinessPolicy, occupancy: Occupancy) -> bool:
        if plan.area == policy.shared_area:
            return occupancy.slots_free(plan.store, plan.start_at, plan.end_at, area=plan.area)
        rooms = _attribute(plan.service, "rooms", 1)  # a private room is booked whole
        return occupancy.count(plan.start_at, plan.end_at, service_ids={plan.service.id}) < rooms


KINDS: dict[str, Kind] = {kind.code: kind for kind in (Appointment(), Stay(), Table())}


def kind_for(policy: BusinessPolicy) -> Kind:
    return KINDS[policy.kind]
