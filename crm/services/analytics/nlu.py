"""What the bot understood of each customer message, kept on the message row for analytics and review.

The hub records it after Rasa answered (api/hub/nlu_record.py) as `message.payload["nlu"]`:
`{"intent": "faq", "confidence": 0.93, "faq_key": "opening_hours"}`. A message the bot never read (the queue
or an agent owned the conversation, Rasa was down) has none.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from crm.models import Message

PAYLOAD_KEY = "nlu"
# The intent Rasa's FallbackClassifier predicts when NLU confidence is below its threshold (config.yml).
FALLBACK_INTENT = "nlu_fallback"


class NluReading(BaseModel):
    intent: str = Field(min_length=1, max_length=64)
    confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    faq_key: str | None = Field(default=None, max_length=64)

    @property
    def is_fallback(self) -> bool:
        return self.intent == FALLBACK_INTENT


def record_nlu(session: Session, *, message_id: int, reading: NluReading) -> bool:
    """Stores the reading on a customer message; False when there is no such customer message."""
    message = session.get(Message, message_id)
    if message is None or message.direction != "in":
        return False
    # A new dict: SQLAlchemy only notices a JSON column change when the value is replaced.
    message.payload = {**(message.payload or {}), PAYLOAD_KEY: reading.model_dump(exclude_none=True)}
    session.flush()
    return True


def reading_of(payload: dict[str, Any] | None) -> NluReading | None:
    """The stored reading of a message payload; None when absent or malformed."""
    raw = (payload or {}).get(PAYLOAD_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        return NluReading.model_validate(raw)
    except ValueError:
        return None
