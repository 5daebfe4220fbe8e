"""Complaints: intake form (asks only what is missing), TS ticket submission, cancellation and status.

What a customer wrote is read by the validation actions' `extract_*` methods: the first message may already
carry the description and category; later turns may answer the question asked or correct the category
("不是服务态度，是菜里有虫子"). A turn that is not an answer (an FAQ, a request for a person, "算了不投诉了")
extracts nothing, so the form rejects it and the rules in data/rules/complaints.yml take over.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.bookings import LAST_BOOKING
from actions.crm import in_session
from actions.escalation import escalate_complaint
from actions.forms import (
    INVALID_ATTEMPTS,
    Form,
    MobileMixin,
    Turn,
    accept,
    asks_a_question,
    confirmation,
    identified_customer_id,
    last_asked_slot,
    points_at_what_was_discussed,
    reject,
)
from actions.normalize import (
    find_booking_number,
    find_mobile,
    find_order_number,
    find_ticket_number,
    looks_like_phone_attempt,
    normalize_text,
)
from actions.orders import LAST_ORDER
from actions.routing import lookup_for
from crm.errors import NotFoundError
from crm.numbers import TICKET_NUMBER_RE
from crm.services import complaint_rules, complaints
from crm.services.complaints import ComplaintStatusOut

logger = logging.getLogger(__name__)

DESCRIPTION = "complaint_description"
CATEGORY = "complaint_category"
REFERENCE = "complaint_reference"
PHONE = "phone"
TICKET_ID = "ticket_id"
NO_REFERENCE = "none"
FORM_SLOTS = (DESCRIPTION, CATEGORY, REFERENCE)
MY_COMPLAINTS_SHOWN = 3
# Where a message right after a filed ticket goes when it is not a detail of that ticket.
DETAIL_FALLBACK = {"order_status": "order_lookup_form"}

# Besides the intents that interrupt every form (actions/forms.py), "where is my order" interrupts a
# complaint: a rule sends it to the order lookup. Everything else is read for every missing slot, even what
# is no answer elsewhere (a description NLU calls out_of_scope is still the description).
ALSO_INTERRUPTS = frozenset({"order_status"})
CANCEL_INTENT = "deny"
# Actions that may run between the customer's message and the form without answering the message.
_PASS_THROUGH_ACTIONS = frozenset(
    {
        "action_listen",
        "action_extract_slots",
        "utter_complaint_empathy",
        "complaint_form",
        "complaint_status_form",
    }
)


def _text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def is_fresh_answer(tracker: Tracker) -> bool:
    """True when the latest message is for the complaint form: no interruption, and not already answered
    by another action (an FAQ answered mid-form is not also the description)."""
    if Turn.of(tracker).interrupts(ALSO_INTERRUPTS):
        return False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return True
        if event.get("event") == "action" and event.get("name") not in _PASS_THROUGH_ACTIONS:
            return False
    return True


def _adds_a_detail(tracker: Tracker) -> bool:
    """ "上周六在观山湖" while the mobile or the order number is asked: more about what happened, not a wrong
    answer. It goes into the description and the question is asked again."""
    turn = Turn.of(tracker)
    if turn.requested_slot not in (PHONE, REFERENCE) or tracker.get_slot(DESCRIPTION) is None:
        return False
    if not turn.is_answer() or turn.confirmation() is not None:
        return False
    text = _text(tracker)
    if re.search(r"\d", turn.text) or complaint_rules.means_no_reference(text):
        return False  # digits are an attempt at the number asked; 没有 answers the reference question
    if complaint_rules.infer_category(text) is not None:
        return False  # a correction of what happened ("不是服务态度，是菜里有虫子"): the category's own path
    return complaint_rules.is_substantive_description(text)


def _requested(tracker: Tracker) -> str | None:
    return Turn.of(tracker).requested_slot


def _category_label(code: str) -> str:
    return complaint_rules.load_rules().category(code).label_zh


def _reference_in(text: str, *, bare: bool) -> str | None:
    return find_order_number(text, allow_bare=bare) or find_booking_number(text, allow_bare=False)


class ValidateComplaintForm(MobileMixin, Form):
    """Collects what happened, the category, a contact mobile (if unidentified) and a related number."""

    def name(self) -> str:
        return "validate_complaint_form"

    async def asked_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[str]:
        wanted = [DESCRIPTION, CATEGORY, PHONE, REFERENCE]
        if identified_customer_id(tracker) is not None:
            wanted.remove(PHONE)  # the CRM knows how to reach them
        return wanted

    async def extract_complaint_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The answer to 'what happened', a first message that says it, or a correction added to it."""
        if not is_fresh_answer(tracker):
            return {}
        text = complaint_rules.clean_description(_text(tracker))
        current = tracker.get_slot(DESCRIPTION)
        if _requested(tracker) == DESCRIPTION:
            if Turn.of(tracker).intent == CANCEL_INTENT and not complaint_rules.category_scores(text):
                return {}
            return {DESCRIPTION: text} if complaint_rules.normalize_description(text) else {}
        if current is None:
            return {DESCRIPTION: text} if complaint_rules.is_substantive_description(text) else {}
        separator = complaint_rules.load_rules().description_separator
        if _adds_a_detail(tracker):
            dispatcher.utter_message(response="utter_complaint_detail_noted")
            return {DESCRIPTION: f"{current}{separator}{text}"}
        if _requested(tracker) != CATEGORY and complaint_rules.infer_category(text) is not None:
            return {DESCRIPTION: f"{current}{separator}{text}"}
        return {}

    async def extract_complaint_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The category named or inferred from the text; a changed category is confirmed to the customer."""
        if not is_fresh_answer(tracker):
            return {}
        text = _text(tracker)
        current = tracker.get_slot(CATEGORY)
        if _requested(tracker) == CATEGORY:
            if Turn.of(tracker).intent == CANCEL_INTENT and complaint_rules.category_from_answer(text) is None:
                return {}
            return {CATEGORY: text}  # validate_complaint_category maps it or explains
        if tracker.get_slot(DESCRIPTION) is None:
            return {}
        found = complaint_rules.category_from_answer(text) if current else None
        found = found or complaint_rules.infer_category(text)
        if found is None or found == current:
            return {}
        if current is not None:
            dispatcher.utter_message(response="utter_complaint_category_updated", category_label=_category_label(found))
        return {CATEGORY: found}

    async def extract_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not is_fresh_answer(tracker):
            return {}
        text = _text(tracker)
        if find_mobile(text) is None and complaint_rules.infer_category(text) is not None:
            return {}  # "不是服务态度，是菜里有虫子" when the mobile was asked corrects the category
        if _adds_a_detail(tracker):
            return {}  # added to the description, not a wrong mobile
        return self.read_mobile(tracker)

    async def extract_complaint_reference(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A DD/YY number anywhere, 没有 when asked, or 'none' when the category needs no reference."""
        if not is_fresh_answer(tracker):
            return {}
        text = _text(tracker)
        asked = _requested(tracker) == REFERENCE
        number = _reference_in(text, bare=asked)
        if number:
            return {REFERENCE: number}
        if asked:
            if complaint_rules.means_no_reference(text):
                return {REFERENCE: NO_REFERENCE}
            if Turn.of(tracker).intent == CANCEL_INTENT or complaint_rules.infer_category(text) is not None:
                return {}
            if _adds_a_detail(tracker):
                return {}  # added to the description, not a wrong number
            return {REFERENCE: text}  # rejected with an explanation by validate_complaint_reference
        if tracker.get_slot(REFERENCE) is None and points_at_what_was_discussed(text):
            discussed = tracker.get_slot(LAST_ORDER) or tracker.get_slot(LAST_BOOKING)
            if discussed:  # "这单怎么还没到，我要投诉" right after looking the order up
                return {REFERENCE: discussed}
        category = tracker.get_slot(CATEGORY)
        if tracker.get_slot(REFERENCE) is None and category in complaint_rules.load_rules().category_codes():
            if not complaint_rules.load_rules().category(category).asks_reference:
                return {REFERENCE: NO_REFERENCE}
        return {}

    def validate_complaint_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = complaint_rules.clean_description(str(value or ""))
        if not complaint_rules.normalize_description(text):
            return reject(dispatcher, tracker, DESCRIPTION, "utter_ask_complaint_form_complaint_description")
        return {DESCRIPTION: text}

    def validate_complaint_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "")
        rules = complaint_rules.load_rules()
        code = (
            text
            if text in rules.category_codes()
            else complaint_rules.category_from_answer(text) or complaint_rules.infer_category(text)
        )
        if code is None:
            return reject(dispatcher, tracker, CATEGORY, "utter_complaint_invalid_category")
        result = accept(CATEGORY, code)
        if tracker.get_slot(REFERENCE) is None and not rules.category(code).asks_reference:
            result[REFERENCE] = NO_REFERENCE
        return result

    async def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        mobile, rejected = self.reject_mobile(value, dispatcher, tracker)
        if mobile is None:
            return rejected
        result = accept(PHONE, mobile)
        reference = tracker.get_slot(REFERENCE)
        if reference and reference != NO_REFERENCE:
            # A number given before the mobile could not be checked yet.
            outcome = await self._check_reference(tracker, reference, mobile=mobile)
            if outcome != "ok":
                dispatcher.utter_message(response="utter_complaint_reference_not_found", reference=reference)
                result[REFERENCE] = None
        return result

    async def validate_complaint_reference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value == NO_REFERENCE:
            return accept(REFERENCE, NO_REFERENCE)
        number = _reference_in(str(value or ""), bare=True)
        if number is None:
            return reject(dispatcher, tracker, REFERENCE, "utter_complaint_invalid_reference")
        outcome = await self._check_reference(tracker, number, mobile=find_mobile(str(tracker.get_slot(PHONE) or "")))
        if outcome in ("ok", "needs_mobile"):  # needs_mobile: checked again once the mobile is known
            return accept(REFERENCE, number)
        return reject(dispatcher, tracker, REFERENCE, "utter_complaint_reference_not_found", reference=number)

    @staticmethod
    async def _check_reference(tracker: Tracker, reference: str, *, mobile: str | None) -> str:
        check = await in_session(
            complaints.check_reference,
            reference=reference,
            customer_id=identified_customer_id(tracker),
            mobile=mobile,
        )
        return check.outcome


def _reset_form_events() -> list[EventType]:
    return [SlotSet(name, None) for name in FORM_SLOTS] + [SlotSet(INVALID_ATTEMPTS, 0)]


def idempotency_key(tracker: Tracker) -> str | None:
    """The hub's message id of the message that completed the form: a redelivery carries the same one."""
    metadata = tracker.latest_message.get("metadata") or {}
    message_id = metadata.get("message_id") if isinstance(metadata, dict) else None
    return f"msg:{message_id}" if message_id not in (None, "") else None


class ActionSubmitComplaint(Action):
    """Runs when complaint_form is complete: opens the TS ticket (or returns the one already opened)."""

    def name(self) -> str:
        return "action_submit_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return await submit_complaint(dispatcher, tracker, escalate=True)


async def submit_complaint(dispatcher: CollectingDispatcher, tracker: Tracker, *, escalate: bool) -> list[EventType]:
    """File the complaint in the slots; with `escalate`, the tier rules may then hand it to a person."""
    reference = tracker.get_slot(REFERENCE)
    customer_id = identified_customer_id(tracker)
    try:
        receipt = await in_session(
            complaints.submit_complaint,
            customer_id=customer_id,
            contact_mobile=None if customer_id is not None else find_mobile(str(tracker.get_slot(PHONE) or "")),
            category=tracker.get_slot(CATEGORY),
            description=tracker.get_slot(DESCRIPTION) or "",
            reference=None if reference in (None, NO_REFERENCE) else reference,
            idempotency_key=idempotency_key(tracker),
        )
    except (complaints.InvalidComplaintError, NotFoundError):
        logger.exception("Complaint could not be filed for %s", tracker.sender_id)
        dispatcher.utter_message(response="utter_complaint_failed")
        return _reset_form_events()
    values = {
        "ticket_number": receipt.ticket_number,
        "category_label": receipt.category_label_zh,
        "response_hours": receipt.response_hours,
        "due_text": receipt.due_text_zh,
    }
    if not receipt.created:
        dispatcher.utter_message(response="utter_complaint_duplicate", **values)
    else:
        if receipt.severity == "high":
            dispatcher.utter_message(response="utter_complaint_priority_high")
        dispatcher.utter_message(response="utter_complaint_created", **values)
    if escalate:
        await escalate_complaint(
            dispatcher, tracker, crm_severity=receipt.severity, description=tracker.get_slot(DESCRIPTION) or ""
        )
    return [*_reset_form_events(), SlotSet(TICKET_ID, receipt.ticket_number)]


class ActionCancelComplaint(Action):
    """Runs when the customer drops the complaint ("算了不投诉了"): nothing is written."""

    def name(self) -> str:
        return "action_cancel_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = _text(tracker)
        if complaint_rules.means_no_reference(text) and (
            last_asked_slot(tracker) == REFERENCE
            or (tracker.get_slot(REFERENCE) is None and confirmation(text, domain=domain) is not False)
        ):
            # "没有" to "is it about an order?" answers that question, even when another one was asked
            # meanwhile; it does not drop the complaint. A typed no ("不用了", "算了") still does.
            return [SlotSet(REFERENCE, NO_REFERENCE), FollowupAction("complaint_form")]
        dispatcher.utter_message(response="utter_complaint_cancelled")
        return _reset_form_events()


class ActionAddComplaintDetail(Action):
    """Runs for a message right after a ticket was filed: a further detail ("说好昨天到的，今天还在派送，一直没
    人联系我", which NLU may call an order question) is added to that ticket and the customer is told so.
    A number, a question or anything too short to be a detail goes where it would have gone otherwise."""

    def name(self) -> str:
        return "action_add_complaint_detail"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        turn = Turn.of(tracker)
        ticket = tracker.get_slot(TICKET_ID)
        is_detail = (
            bool(ticket)
            and not lookup_for(turn.text)
            and not asks_a_question(turn.text)
            and complaint_rules.is_substantive_description(turn.text)
        )
        status = None
        if is_detail:
            status = await in_session(
                complaints.add_complaint_detail,
                ticket_number=str(ticket),
                detail=complaint_rules.clean_description(turn.text),
                customer_id=identified_customer_id(tracker),
                mobile=find_mobile(str(tracker.get_slot(PHONE) or "")),
            )
        if status is None:  # not a detail of that ticket: the message's own flow
            return [FollowupAction(DETAIL_FALLBACK.get(turn.intent, "action_route_unclaimed"))]
        dispatcher.utter_message(response="utter_complaint_detail_added", **status_values(status))
        return []


class ValidateComplaintStatusForm(MobileMixin, Form):
    """Unidentified customers give the TS number and the mobile on the ticket; identified ones nothing."""

    def name(self) -> str:
        return "validate_complaint_status_form"

    async def asked_slots(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[str]:
        return [] if identified_customer_id(tracker) is not None else [TICKET_ID, PHONE]

    async def extract_ticket_id(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not is_fresh_answer(tracker) and Turn.of(tracker).intent != "complaint_status":
            return {}
        text = _text(tracker)
        asked = _requested(tracker) == TICKET_ID
        number = find_ticket_number(text, allow_bare=asked)
        if number:
            return {TICKET_ID: number}
        if asked and (looks_like_phone_attempt(text) or "TS" in normalize_text(text).upper()):
            return {TICKET_ID: text}
        return {}

    async def extract_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if not is_fresh_answer(tracker) and Turn.of(tracker).intent != "complaint_status":
            return {}
        return self.read_mobile(tracker)

    def validate_ticket_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = find_ticket_number(str(value or ""))
        if number is None or not TICKET_NUMBER_RE.fullmatch(number):
            return reject(dispatcher, tracker, TICKET_ID, "utter_complaint_invalid_ticket")
        return accept(TICKET_ID, number)

    def validate_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        mobile, rejected = self.reject_mobile(value, dispatcher, tracker)
        return rejected if mobile is None else accept(PHONE, mobile)


def status_values(status: ComplaintStatusOut) -> dict[str, str]:
    return {
        "ticket_number": status.ticket_number,
        "category_label": status.category_label_zh,
        "status_label": status.status_label_zh,
        "last_update": status.last_update_zh,
        "due_text": status.due_text_zh,
        "masked_mobile": status.masked_contact_mobile or "",
    }


class ActionComplaintStatus(Action):
    """Runs when complaint_status_form is complete: one ticket by number, or the customer's open tickets."""

    def name(self) -> str:
        return "action_complaint_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        customer_id = identified_customer_id(tracker)
        number = find_ticket_number(_text(tracker), allow_bare=False) or find_ticket_number(
            str(tracker.get_slot(TICKET_ID) or "")
        )
        mobile = find_mobile(str(tracker.get_slot(PHONE) or ""))
        if number is None:
            if customer_id is None:  # the form asks for it; reached only if the slot was cleared meanwhile
                dispatcher.utter_message(response="utter_ask_complaint_status_form_ticket_id")
                return []
            return await self._my_complaints(dispatcher, customer_id)
        status = await in_session(
            complaints.get_complaint_status, ticket_number=number, customer_id=customer_id, mobile=mobile
        )
        if status is None:
            # Missing and someone else's read the same: nothing about other people's tickets leaks.
            dispatcher.utter_message(response="utter_complaint_status_not_found", ticket_number=number)
            cleared = [SlotSet(TICKET_ID, None)]
            return cleared if customer_id is not None else [*cleared, SlotSet(PHONE, None)]
        dispatcher.utter_message(response="utter_complaint_status", **status_values(status))
        return [SlotSet(INVALID_ATTEMPTS, 0)]

    @staticmethod
    async def _my_complaints(dispatcher: CollectingDispatcher, customer_id: int) -> list[EventType]:
        open_tickets = await in_session(
            complaints.list_open_complaints, customer_id=customer_id, limit=MY_COMPLAINTS_SHOWN
        )
        if not open_tickets:
            dispatcher.utter_message(response="utter_complaint_status_none_open")
            return []
        dispatcher.utter_message(response="utter_complaint_status_list_header", count=len(open_tickets))
        for status in open_tickets:
            dispatcher.utter_message(response="utter_complaint_status", **status_values(status))
        return []
