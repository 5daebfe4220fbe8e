"""Review data for the ops console's tests: Rasa's SQL tracker store (`events`, as SQLTrackerStore writes
it) and conversations in the CRM with their transcript and rating."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from crm.models import Conversation, CsatResponse, Customer, Message

DAY = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)  # 11:00 in Shanghai


def events_table(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255)"
                " NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"
            )
        )
    engine.dispose()
    return url


def track(url: str, sender: str, turns: list[tuple[str, str, str | None]]) -> None:
    """(kind, name, text) rows as Rasa's SQLTrackerStore writes them."""
    engine = create_engine(url)
    with engine.begin() as connection:
        for kind, name, said in turns:
            if kind == "user":
                data = {"event": "user", "text": said, "parse_data": {"intent": {"name": name, "confidence": 0.41}}}
                row = {"s": sender, "t": "user", "i": name, "a": None, "d": json.dumps(data, ensure_ascii=False)}
            else:
                row = {"s": sender, "t": "action", "i": None, "a": name, "d": json.dumps({"name": name})}
            connection.execute(
                text(
                    "INSERT INTO events (sender_id, type_name, intent_name, action_name, data) VALUES (:s,:t,:i,:a,:d)"
                ),
                row,
            )
    engine.dispose()


def add_conversation(factory: sessionmaker[Session], sender: str, texts: list[tuple[str, str]], **extra: object) -> int:
    with factory.begin() as session:
        customer = session.query(Customer).filter(Customer.web_user_id.is_not(None)).order_by(Customer.id).first()
        assert customer is not None
        conversation = Conversation(
            channel="web",
            channel_user_id=sender,
            customer_id=customer.id,
            rasa_sender_id=sender,
            started_at=DAY,
            status="closed",
            closed_at=DAY,
            close_reason="idle",
        )
        session.add(conversation)
        session.flush()
        for who, said in texts:
            session.add(
                Message(
                    conversation_id=conversation.id,
                    direction="in" if who == "customer" else "out",
                    sender=who,
                    text=said,
                    created_at=DAY,
                )
            )
        if "csat" in extra:
            session.add(CsatResponse(conversation_id=conversation.id, customer_id=customer.id, score=extra["csat"]))
        return conversation.id
