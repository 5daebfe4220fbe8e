"""Keeps what the bot understood of each customer message on the message row (crm.services.analytics.nlu).

Rasa's REST channel answers with the replies only, so after the replies are stored the hub asks Rasa's HTTP API
for the conversation's latest parse and records intent, confidence and FAQ key on the inbound message. This runs
in the background: the customer's answer never waits for it, and a failure only loses that message's analytics.
"""

from __future__ import annotations

from typing import Any

from crm.services.analytics.nlu import NluReading

# The retrieval intent whose ResponseSelector key names the FAQ entry (actions/faq.py RETRIEVAL_INTENT).
FAQ_INTENT = "faq"


def reading_from_parse(latest_message: dict[str, Any], *, sent: str) -> NluReading | None:
    """The intent, its confidence and (for `faq`) the predicted FAQ key of a Rasa parse; None without an intent,
    or when the parse is of another message than `sent` (the customer was quicker than this look-up)."""
    if str(latest_message.get("text") or "").strip() != sent.strip():
        return None
    intent = latest_message.get("intent") or {}
    name = intent.get("name") if isinstance(intent, dict) else None
    if not isinstance(name, str) or not name:
        return None
    confidence = intent.get("confidence")
    faq_key = None
    if name == FAQ_INTENT:
        selector = (latest_message.get("response_selector") or {}).get(FAQ_INTENT) or {}
        key = (selector.get("response") or {}).get("intent_response_key") or ""
        if isinstance(key, str) and key.startswith(f"{FAQ_INTENT}/"):
            faq_key = key.removeprefix(f"{FAQ_INTENT}/")
    return NluReading(
        intent=name[:64],
        confidence=min(1.0, max(0.0, float(confidence))) if isinstance(confidence, int | float) else None,
        faq_key=faq_key[:64] if faq_key else None,
    )
