"""Complaint intake and status for the bot and the consoles.

A complaint becomes a TS ticket with a due time from the customer's tier and the severity (rules in
policy/complaints.yml). Submissions are idempotent twice over: a retried request carries the same
idempotency key (the hub's message id), and a double tap carries the same content fingerprint (subject +
category + normalised description + dedupe window). Both columns are unique, so a concurrent duplicate
loses on the unique index inside a SAVEPOINT and gets the winner's ticket back.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm.enums import COMPLAINT_CATEGORIES, ComplaintCategory, ComplaintSeverity, ComplaintStatus
from crm.errors import NotFoundError
from crm.formatting import mask_mobile
from crm.models import Complaint, Customer
from crm.numbers import BOOKING_NUMBER_RE, MOBILE_RE, ORDER_NUMBER_RE, allocate_ticket_number
from crm.repositories import CustomerRepository, TierRepository
from crm.repositories.complaints import OPEN_STATUSES, ComplaintRepository
from crm.schemas import Dto
from crm.services import complaint_rules as rules_
from crm.services.ownership import Requester
from crm.types import utcnow

logger = logging.getLogger(__name__)

ReferenceOutcome = Literal["ok", "not_found", "needs_mobile", "invalid_format"]


class InvalidComplaintError(ValueError):
    """The complaint cannot be filed as given (unknown category, no contact, foreign order…)."""


class ReferenceCheckOut(Dto):
    reference: str
    kind: Literal["order", "booking"] | None
    outcome: ReferenceOutcome


class ComplaintReceiptOut(Dto):
    ticket_number: str
    created: bool  # False: an earlier submission of the same complaint was returned
    category: ComplaintCategory
    category_label_zh: str
    severity: ComplaintSeverity
    response_hours: int
    due_at: datetime
    due_text_zh: str  # '今天18:30'
    masked_contact_mobile: str | None


class ComplaintStatusOut(Dto):
    ticket_number: str
    category: ComplaintCategory
    category_label_zh: str
    status: ComplaintStatus
    status_label_zh: str
    last_update_zh: str
    due_at: datetime
    due_text_zh: str
    created_at: datetime
    masked_contact_mobile: str | None


def _reference_kind(reference: str) -> Literal["order", "booking"] | None:
    if ORDER_NUMBER_RE.fullmatch(reference):
        return "order"
    if BOOKING_NUMBER_RE.fullmatch(reference):
        return "booking"
    return None


def check_reference(
    session: Session, *, reference: str, customer_id: int | None, mobile: str | None
) -> ReferenceCheckOut:
    """Whether a DD/YY number exists and belongs to this customer (or to this mobile when anonymous).

    Someone else's number is reported as not found, so nobody learns which numbers exist.
    """
    reference = reference.strip().upper()
    kind = _reference_kind(reference)
    if kind is None:
        return ReferenceCheckOut(reference=reference, kind=None, outcome="invalid_format")
    if customer_id is None and not mobile:
        return ReferenceCheckOut(reference=reference, kind=kind, outcome="needs_mobile")
    found = _owned_reference(session, reference, kind, customer_id=customer_id, mobile=mobile)
    return ReferenceCheckOut(reference=reference, kind=kind, outcome="ok" if found is not None else "not_found")


def _owned_reference(
    session: Session, reference: str, kind: str, *, customer_id: int | None, mobile: str | None
) -> tuple[int, int | None, int | None] | None:
    """(row id, business_id, store_id) of the order/booking when the caller may refer to it."""
    repository = ComplaintRepository(session)
    row = (
        repository.get_order_with_owner_mobile(reference)
        if kind == "order"
        else repository.get_booking_with_owner_mobile(reference)
    )
    if row is None:
        return None
    target, owner_mobile = row
    requester = Requester(customer_id, mobile or None)
    allowed = requester.may_see(target.customer_id, owner_mobile, getattr(target, "recipient_mobile", None))
    return (target.id, target.business_id, target.store_id) if allowed else None


def _response_hours(session: Session, customer: Customer | None, severity: str) -> int:
    """The tier's complaint response target; anonymous customers get the lowest tier's."""
    tiers = TierRepository(session)
    level = tiers.get(customer.effective_tier) if customer is not None else None
    if level is None:
        all_levels = tiers.list_all()  # highest queue priority first
        level = all_levels[-1] if all_levels else None
    if level is None:
        defaults = rules_.load_rules().default_response_hours
        return defaults.high if severity == "high" else defaults.normal
    return level.complaint_response_hours_high if severity == "high" else level.complaint_response_hours_normal


def _receipt(complaint: Complaint, *, created: bool, now: datetime) -> ComplaintReceiptOut:
    rules = rules_.load_rules()
    hours = round((complaint.due_at - complaint.created_at) / timedelta(hours=1))
    return ComplaintReceiptOut(
        ticket_number=complaint.ticket_number,
        created=created,
        category=complaint.category,  # type: ignore[arg-type]
        category_label_zh=rules.category(complaint.category).label_zh,
        severity=complaint.severity,  # type: ignore[arg-type]
        response_hours=hours,
        due_at=complaint.due_at,
        due_text_zh=rules_.due_text(complaint.due_at, now=now, rules=rules),
        masked_contact_mobile=mask_mobile(complaint.contact_mobile) if complaint.contact_mobile else None,
    )


def submit_complaint(
    session: Session,
    *,
    customer_id: int | None,
    contact_mobile: str | None,
    category: str,
    description: str,
    reference: str | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> ComplaintReceiptOut:
    """Open a TS ticket, or return the ticket of an earlier submission of the same complaint."""
    now = now or utcnow()
    rules = rules_.load_rules()
    description = rules_.clean_description(description)
    if category not in COMPLAINT_CATEGORIES:
        raise InvalidComplaintError(f"unknown complaint category {category!r}")
    if not description:
        raise InvalidComplaintError("a complaint needs a description")
    if contact_mobile is not None and not MOBILE_RE.fullmatch(contact_mobile):
        raise InvalidComplaintError("contact mobile must be an 11-digit mainland mobile")
    customer = CustomerRepository(session).get(customer_id) if customer_id is not None else None
    if customer_id is not None and customer is None:
        raise NotFoundError(f"customer {customer_id} does not exist")
    if customer is None and contact_mobile is None:
        raise InvalidComplaintError("an unidentified customer must leave a contact mobile")
    contact_mobile = contact_mobile or (customer.mobile if customer is not None else None)

    repository = ComplaintRepository(session)
    existing = _find_duplicate(repository, customer_id, contact_mobile, category, description, idempotency_key, now)
    if existing is not None:
        return _receipt(existing, created=False, now=now)

    order_id = booking_id = business_id = store_id = None
    if reference:
        check = check_reference(session, reference=reference, customer_id=customer_id, mobile=contact_mobile)
        owned = (
            _owned_reference(session, check.reference, check.kind, customer_id=customer_id, mobile=contact_mobile)
            if check.outcome == "ok" and check.kind is not None
            else None
        )
        if owned is None:
            raise InvalidComplaintError(f"reference {reference!r} is not this customer's ({check.outcome})")
        row_id, business_id, store_id = owned
        order_id, booking_id = (row_id, None) if check.kind == "order" else (None, row_id)

    repeated = (
        repository.count_recent_for_subject(
            customer_id=customer_id, mobile=contact_mobile, since=rules_.repeat_window(now, rules)
        )
        > 0
    )
    severity = rules_.severity_for(description, repeated=repeated, rules=rules)
    hours = _response_hours(session, customer, severity)
    bucket = rules_.dedupe_bucket(now, rules.dedupe_window_minutes)
    candidate = Complaint(
        customer_id=customer_id,
        contact_mobile=contact_mobile,
        business_id=business_id,
        store_id=store_id,
        category=category,
        severity=severity,
        status="open",
        description=description,
        order_id=order_id,
        booking_id=booking_id,
        due_at=now + timedelta(hours=hours),
        idempotency_key=idempotency_key,
        fingerprint=rules_.fingerprint(_subject(customer_id, contact_mobile), category, description, bucket),
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            candidate.ticket_number = allocate_ticket_number(session, at=now)
            complaint = repository.add(candidate)
    except IntegrityError:
        # A concurrent submission of the same complaint (same key or fingerprint) committed first.
        winner = _find_duplicate(repository, customer_id, contact_mobile, category, description, idempotency_key, now)
        if winner is None:
            raise
        logger.info("Complaint race lost to %s", winner.ticket_number)
        return _receipt(winner, created=False, now=now)
    logger.info(
        "Complaint %s opened: category=%s severity=%s reasons=%s repeated=%s",
        complaint.ticket_number,
        category,
        severity,
        rules_.high_severity_reasons(description, rules),
        repeated,
    )
    return _receipt(complaint, created=True, now=now)


def _subject(customer_id: int | None, mobile: str | None) -> str:
    return f"customer:{customer_id}" if customer_id is not None else f"mobile:{mobile}"


def _find_duplicate(
    repository: ComplaintRepository,
    customer_id: int | None,
    mobile: str | None,
    category: str,
    description: str,
    idempotency_key: str | None,
    now: datetime,
) -> Complaint | None:
    if idempotency_key is not None:
        by_key = repository.get_by_idempotency_key(idempotency_key)
        if by_key is not None:
            return by_key
    window = rules_.load_rules().dedupe_window_minutes
    bucket = rules_.dedupe_bucket(now, window)
    subject = _subject(customer_id, mobile)
    # The previous window too: a double tap may straddle a window boundary.
    fingerprints = [rules_.fingerprint(subject, category, description, b) for b in (bucket, bucket - 1)]
    return repository.find_by_fingerprints(fingerprints, since=now - timedelta(minutes=window))


def _status_out(complaint: Complaint, *, now: datetime) -> ComplaintStatusOut:
    rules = rules_.load_rules()
    return ComplaintStatusOut(
        ticket_number=complaint.ticket_number,
        category=complaint.category,  # type: ignore[arg-type]
        category_label_zh=rules.category(complaint.category).label_zh,
        status=complaint.status,  # type: ignore[arg-type]
        status_label_zh=rules.status_labels[complaint.status],
        last_update_zh=complaint.last_update_note or rules.no_update_note,
        due_at=complaint.due_at,
        due_text_zh=rules_.due_text(complaint.due_at, now=now, rules=rules),
        created_at=complaint.created_at,
        masked_contact_mobile=mask_mobile(complaint.contact_mobile) if complaint.contact_mobile else None,
    )


def get_complaint_status(
    session: Session,
    *,
    ticket_number: str,
    customer_id: int | None = None,
    mobile: str | None = None,
    now: datetime | None = None,
) -> ComplaintStatusOut | None:
    """The ticket's status when it is the caller's (their customer id, or the contact mobile on it).

    A ticket that does not exist and someone else's ticket both give None.
    """
    complaint = _owned_complaint(session, ticket_number, customer_id, mobile)
    return _status_out(complaint, now=now or utcnow()) if complaint is not None else None


def _owned_complaint(
    session: Session, ticket_number: str, customer_id: int | None, mobile: str | None
) -> Complaint | None:
    """The ticket when it is the requester's under the one ownership rule (crm/services/ownership.py)."""
    complaint = ComplaintRepository(session).get_by_ticket_number(ticket_number.strip().upper())
    if complaint is None:
        return None
    requester = Requester(customer_id=customer_id, mobile=mobile if customer_id is None else None)
    return complaint if requester.may_see(complaint.customer_id, complaint.contact_mobile) else None


def add_complaint_detail(
    session: Session,
    *,
    ticket_number: str,
    detail: str,
    customer_id: int | None = None,
    mobile: str | None = None,
    now: datetime | None = None,
) -> ComplaintStatusOut | None:
    """Adds what the customer said right after filing ("说好昨天到的，一直没人联系我") to the open ticket's
    description, once (a retried message is not added twice). None when it is not theirs or no longer open."""
    complaint = _owned_complaint(session, ticket_number, customer_id, mobile)
    if complaint is None or complaint.status not in OPEN_STATUSES:
        return None
    detail = detail.strip()
    if detail and detail not in complaint.description:
        complaint.description = f"{complaint.description}{rules_.load_rules().description_separator}{detail}"
        session.flush()
    return _status_out(complaint, now=now or utcnow())


def list_open_complaints(
    session: Session, *, customer_id: int, limit: int = 3, now: datetime | None = None
) -> list[ComplaintStatusOut]:
    """The customer's newest open or in-progress tickets ('我的投诉')."""
    now = now or utcnow()
    complaints = ComplaintRepository(session).list_for_customer(customer_id, statuses=OPEN_STATUSES, limit=limit)
    return [_status_out(complaint, now=now) for complaint in complaints]
