"""Plays the customer conversations in `conversations.yml` through the real stack and judges every turn.

Each turn is sent as typed text (never a button payload) to the API hub, which passes it to Rasa and the
action server; the replies are judged by the turn's expectation, and after the last turn the CRM database
is checked against what the customer agreed. `python -m tests.conversations.runner` starts a whole stack,
plays every conversation and prints per-turn and per-conversation pass rates (`make conversations`).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import yaml
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from crm.db import make_engine
from crm.models import Booking, Business, Complaint, Customer, Order, Service, Store
from crm.models import Conversation as ConversationRow

CONVERSATIONS_FILE = Path(__file__).with_name("conversations.yml")
TZ = ZoneInfo("Asia/Shanghai")
BOOKING_NUMBER = re.compile(r"YY\d{12}")
TICKET_NUMBER = re.compile(r"TS\d{12}")
DEMO_USERS = ("demo-platinum", "demo-gold", "demo-iron", "demo-lead")


@dataclass(frozen=True)
class Turn:
    say: str
    expect: Mapping[str, Any]


@dataclass(frozen=True)
class Conversation:
    id: str
    who: str
    turns: tuple[Turn, ...]
    end: Mapping[str, Any]
    xfail: str | None


@dataclass
class TurnResult:
    said: str
    replies: list[str]
    failures: list[str]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class ConversationResult:
    conversation: Conversation
    turns: list[TurnResult] = field(default_factory=list)
    end_failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(turn.passed for turn in self.turns) and not self.end_failures

    def explain(self) -> str:
        lines = [f"conversation {self.conversation.id}:"]
        for number, turn in enumerate(self.turns, 1):
            mark = "ok  " if turn.passed else "FAIL"
            lines.append(f"  {mark} {number}. customer: {turn.said}")
            lines.extend(f"         bot: {reply}" for reply in turn.replies)
            lines.extend(f"         !! {failure}" for failure in turn.failures)
        lines.extend(f"  FAIL end: {failure}" for failure in self.end_failures)
        return "\n".join(lines)


def load_conversations(path: Path = CONVERSATIONS_FILE) -> list[Conversation]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    conversations = [
        Conversation(
            id=item["id"],
            who=item.get("who", "anonymous"),
            turns=tuple(Turn(say=str(t["say"]), expect=t.get("expect") or {}) for t in item["turns"]),
            end=item.get("end") or {},
            xfail=item.get("xfail"),
        )
        for item in raw["conversations"]
    ]
    ids = [c.id for c in conversations]
    if len(ids) != len(set(ids)):
        raise ValueError("conversation ids must be unique")
    return conversations


# ---------------------------------------------------------------- the seeded facts a script refers to


def spaced(number: str) -> str:
    """DD202611280016 -> 'DD 2026 1128 0016', the way people copy numbers from a screen."""
    return f"{number[:2]} {number[2:6]} {number[6:10]} {number[10:]}"


def seeded_facts(session: Session) -> dict[str, str]:
    """Numbers and mobiles of the demo customers' seeded rows (they depend on the seeding date)."""
    facts: dict[str, str] = {}
    for web_user_id in DEMO_USERS:
        customer = session.scalar(select(Customer).where(Customer.web_user_id == web_user_id))
        if customer is None:
            raise LookupError(f"demo customer {web_user_id} is not seeded")
        prefix = web_user_id.removeprefix("demo-")
        facts[f"{prefix}_mobile"] = customer.mobile
        orders = session.scalars(
            select(Order).where(Order.customer_id == customer.id).order_by(Order.placed_at.desc())
        ).all()
        for index, order in enumerate(orders, 1):
            facts[f"{prefix}_order{index}"] = order.order_number
            facts[f"{prefix}_order{index}_spaced"] = spaced(order.order_number)
            facts[f"{prefix}_order{index}_digits"] = order.order_number[2:]
        bookings = session.scalars(
            select(Booking).where(Booking.customer_id == customer.id).order_by(Booking.start_at)
        ).all()
        for index, booking in enumerate(bookings, 1):
            facts[f"{prefix}_booking{index}"] = booking.booking_number
    ticket = session.scalars(
        select(Complaint)
        .where(Complaint.contact_mobile.is_not(None), Complaint.customer_id.is_not(None))
        .order_by(Complaint.id)
    ).first()
    if ticket is not None and ticket.contact_mobile:
        facts["ticket"] = ticket.ticket_number
        facts["ticket_mobile"] = ticket.contact_mobile
    return facts


# ---------------------------------------------------------------- judging


def judge_turn(expect: Mapping[str, Any], replies: list[str], fill: Callable[[str], str]) -> list[str]:
    """What is wrong with the bot's replies to one turn (empty when they are what an agent would say)."""
    text = "\n".join(replies)
    failures: list[str] = []
    if not text.strip():
        return ["no reply"]
    for needle in map(fill, expect.get("all", [])):
        if needle not in text:
            failures.append(f"reply lacks {needle!r}")
    options = [fill(option) for option in expect.get("any", [])]
    if options and not any(option in text for option in options):
        failures.append(f"reply has none of {options!r}")
    for needle in map(fill, expect.get("none", [])):
        if needle in text:
            failures.append(f"reply must not say {needle!r}")
    for pattern in expect.get("match", []):
        if not re.search(fill(pattern), text):
            failures.append(f"reply does not match /{pattern}/")
    return failures


def local(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))
    return aware.astimezone(TZ)


def booking_failures(
    session: Session, booking: Booking, wanted: Mapping[str, Any], today: date, fill: Callable[[str], str]
) -> list[str]:
    start = local(booking.start_at)
    customer = session.get(Customer, booking.customer_id)
    store = session.get(Store, booking.store_id)
    business = session.get(Business, booking.business_id)
    service = session.get(Service, booking.service_id) if booking.service_id else None
    actual: dict[str, Any] = {
        "status": booking.status,
        "business": business.code if business else None,
        "store": store.code if store else None,
        "service": service.code if service else None,
        "day_offset": (start.date() - today).days,
        "weekday": start.weekday(),
        "hour": start.hour,
        "minute": start.minute,
        "party_size": booking.party_size,
        "nights": booking.nights,
        "plate": booking.plate_number,
        "area": booking.area,
        "customer_name": customer.name if customer else None,
        "customer_mobile": customer.mobile if customer else None,
    }
    failures = []
    for key, value in wanted.items():
        if key in ("number",):
            continue
        if key not in actual:
            raise KeyError(f"unknown booking check {key!r}")
        if isinstance(value, str):
            value = fill(value)
        if key == "customer_name" and isinstance(actual[key], str) and actual[key].startswith(value):
            continue  # the surname is what matters: 王 and 王先生 both keep it
        if actual[key] != value:
            failures.append(f"booking {booking.booking_number} {key} is {actual[key]!r}, expected {value!r}")
    return failures


@dataclass(frozen=True)
class Watermark:
    """The highest row ids before a conversation: rows above them were written by it."""

    booking_id: int
    complaint_id: int

    @classmethod
    def take(cls, session: Session) -> Watermark:
        return cls(
            booking_id=session.scalar(select(func.coalesce(func.max(Booking.id), 0))) or 0,
            complaint_id=session.scalar(select(func.coalesce(func.max(Complaint.id), 0))) or 0,
        )


def judge_end(
    end: Mapping[str, Any], session: Session, before: Watermark, fill: Callable[[str], str], today: date
) -> list[str]:
    failures: list[str] = []
    new_bookings = session.scalars(select(Booking).where(Booking.id > before.booking_id).order_by(Booking.id)).all()
    new_complaints = session.scalars(
        select(Complaint).where(Complaint.id > before.complaint_id).order_by(Complaint.id)
    ).all()
    if "new_bookings" in end and len(new_bookings) != end["new_bookings"]:
        failures.append(f"{len(new_bookings)} bookings written, expected {end['new_bookings']}")
    if "new_complaints" in end and len(new_complaints) != end["new_complaints"]:
        failures.append(f"{len(new_complaints)} complaints written, expected {end['new_complaints']}")
    if "booking" in end:
        wanted = end["booking"]
        if "number" in wanted:
            booking = session.scalar(select(Booking).where(Booking.booking_number == fill(wanted["number"])))
        else:
            booking = new_bookings[-1] if new_bookings else None
        if booking is None:
            failures.append("no booking to check")
        else:
            failures.extend(booking_failures(session, booking, wanted, today, fill))
    if "complaint" in end:
        wanted = end["complaint"]
        complaint = new_complaints[-1] if new_complaints else None
        if complaint is None:
            failures.append("no complaint to check")
        else:
            if "order" in wanted:
                order = session.get(Order, complaint.order_id) if complaint.order_id else None
                if order is None or order.order_number != fill(wanted["order"]):
                    failures.append(f"complaint {complaint.ticket_number} is not about order {fill(wanted['order'])}")
            if "contact_mobile" in wanted and complaint.contact_mobile != fill(wanted["contact_mobile"]):
                failures.append(f"complaint contact mobile is {complaint.contact_mobile!r}")
            if "category" in wanted and complaint.category != wanted["category"]:
                failures.append(f"complaint category is {complaint.category!r}, expected {wanted['category']!r}")
            for words in wanted.get("description_has", []):
                if words not in complaint.description:
                    failures.append(f"complaint description {complaint.description!r} lacks {words!r}")
    return failures


# ---------------------------------------------------------------- playing


class Player:
    """Plays conversations against one running stack (its API URL and its CRM database)."""

    def __init__(self, api: httpx.Client, session_factory: sessionmaker[Session]) -> None:
        self.api = api
        self.session_factory = session_factory
        with session_factory() as session:
            self.facts = seeded_facts(session)
        self._tokens: dict[str, str] = {}

    def token(self, who: str) -> str | None:
        if who == "anonymous":
            return None
        if who not in self._tokens:
            response = self.api.get("/api/widget/dev-identity", params={"web_user_id": who})
            response.raise_for_status()
            self._tokens[who] = response.json()["identity_token"]
        return self._tokens[who]

    def start_a_new_conversation(self, web_user_id: str) -> None:
        """A logged-in customer has one open conversation across browser sessions; closing it (as an agent
        or the session timeout would) makes the next message open a new one with a fresh Rasa tracker, so one
        script's unfinished form does not leak into the next script of the same demo customer."""
        with self.session_factory.begin() as session:
            session.execute(
                update(ConversationRow)
                .where(ConversationRow.channel_user_id == web_user_id, ConversationRow.status == "open")
                .values(status="closed", closed_at=datetime.now(ZoneInfo("UTC")))
            )

    def play(self, conversation: Conversation) -> ConversationResult:
        user = f"conv-{uuid.uuid4().hex[:12]}"
        variables = dict(self.facts)
        mobile = f"139{random.randint(10**7, 10**8 - 1)}"
        variables.update(mobile=mobile, mobile_short=mobile[:-1])
        token = self.token(conversation.who)
        today = datetime.now(TZ).date()
        with self.session_factory() as session:
            before = Watermark.take(session)

        def fill(template: str) -> str:
            return re.sub(r"\{([a-z][a-z0-9_]*)\}", lambda m: variables[m.group(1)], template)

        result = ConversationResult(conversation)
        if token:
            self.start_a_new_conversation(conversation.who)
        for turn in conversation.turns:
            said = fill(turn.say)
            body: dict[str, Any] = {"user_id": user, "text": said, "client_message_id": str(uuid.uuid4())}
            if token:
                body["identity_token"] = token
            response = self.api.post("/api/widget/messages", json=body)
            if response.status_code != 200:
                result.turns.append(TurnResult(said, [], [f"HTTP {response.status_code}: {response.text[:200]}"]))
                continue
            replies = [shown(reply) for reply in response.json()["replies"]]
            try:
                failures = judge_turn(turn.expect, replies, fill)
            except KeyError as missing:
                failures = [f"the bot never named {missing} before this turn"]
            result.turns.append(TurnResult(said, replies, failures))
            remember_named_numbers(replies, variables)
        with self.session_factory() as session:
            try:
                result.end_failures = judge_end(conversation.end, session, before, fill, today)
            except KeyError as missing:
                result.end_failures = [f"the bot never named {missing}"]
        return result


def shown(reply: Mapping[str, Any]) -> str:
    """What the customer sees of one reply: its text and its buttons' titles."""
    titles = [str(button["title"]) for button in reply.get("buttons") or []]
    return str(reply["text"]) + (f" [{' | '.join(titles)}]" if titles else "")


def remember_named_numbers(replies: list[str], variables: dict[str, str]) -> None:
    """The booking and ticket the bot has just named are what "it" refers to in the next turns."""
    for reply in replies:
        if "例如" in reply:  # a format example, not a real number
            continue
        if found := BOOKING_NUMBER.findall(reply):
            variables["booking"] = found[-1]
        if found := TICKET_NUMBER.findall(reply):
            variables["last_ticket"] = found[-1]


@dataclass
class Score:
    turns_passed: int
    turns: int
    conversations_passed: int
    conversations: int

    @classmethod
    def of(cls, results: list[ConversationResult]) -> Score:
        return cls(
            turns_passed=sum(turn.passed for r in results for turn in r.turns),
            turns=sum(len(r.turns) for r in results),
            conversations_passed=sum(r.passed for r in results),
            conversations=len(results),
        )

    def summary(self) -> str:
        return (
            f"turns: {self.turns_passed}/{self.turns} ({100 * self.turns_passed / max(self.turns, 1):.0f}%), "
            f"conversations: {self.conversations_passed}/{self.conversations} "
            f"({100 * self.conversations_passed / max(self.conversations, 1):.0f}%)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", default=[], help="play only these conversation ids")
    parser.add_argument("--verbose", action="store_true", help="print every failing conversation in full")
    parser.add_argument("--json", type=Path, help="also write the per-conversation results here")
    parser.add_argument("--api-url", help="play against this running API instead of starting a stack...")
    parser.add_argument("--database-url", help="...whose CRM database is this")
    args = parser.parse_args(argv)
    conversations = [c for c in load_conversations() if not args.only or c.id in args.only]
    if args.api_url and args.database_url:
        results = play_against(args.api_url, sessionmaker(make_engine(args.database_url)), conversations)
    else:
        results = play_on_a_fresh_stack(conversations)
    report(results, verbose=args.verbose, json_path=args.json)
    return 0


def play_against(
    api_url: str, session_factory: sessionmaker[Session], conversations: list[Conversation]
) -> list[ConversationResult]:
    with httpx.Client(base_url=api_url, timeout=60.0) as api:
        player = Player(api, session_factory)
        return [player.play(conversation) for conversation in conversations]


def play_on_a_fresh_stack(conversations: list[Conversation]) -> list[ConversationResult]:

    from stack.ephemeral import start_ephemeral_stack
    from stack.model import ensure_model

    with tempfile.TemporaryDirectory(prefix="conversations-") as workdir:
        stack = start_ephemeral_stack(Path(workdir), ensure_model())
        try:
            return play_against(stack.api_url, stack.session_factory, conversations)
        finally:
            stack.stop()


def report(results: list[ConversationResult], verbose: bool, json_path: Path | None) -> None:
    lines = []
    for result in results:
        turns_ok = sum(turn.passed for turn in result.turns)
        status = "pass" if result.passed else "FAIL"
        lines.append(f"{status}  {result.conversation.id:<56} turns {turns_ok}/{len(result.turns)}")
        if verbose and not result.passed:
            lines.append(result.explain())
    lines.append(Score.of(results).summary())
    sys.stdout.write("\n".join(lines) + "\n")
    if json_path:
        json_path.write_text(
            json.dumps(
                [
                    {
                        "id": r.conversation.id,
                        "passed": r.passed,
                        "turns_passed": sum(t.passed for t in r.turns),
                        "turns": len(r.turns),
                    }
                    for r in results
                ],
                ensure_ascii=False,
                indent=1,
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    sys.exit(main())
