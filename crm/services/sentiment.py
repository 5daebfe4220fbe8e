"""Negative sentiment and abuse in Chinese customer messages, by the rules in policy/sentiment.yml.

Small and dependency-light so the action server can call it on every message. It only classifies: the bot
never argues, and flagging a customer for abuse is an agent's decision (crm.services.queue.flag_abuse).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from opencc import OpenCC
from pydantic import BaseModel, ConfigDict, Field, field_validator

from crm.policy import cached_policy, load_policy

_ASCII_WORD = re.compile(r"^[0-9a-z]+$")
_to_simplified = OpenCC("t2s")


class SentimentRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    exclamation_run: int = Field(ge=2)
    not_sentiment: list[str] = Field(default_factory=list)
    negative: list[str] = Field(min_length=1)
    wants_escalation: list[str] = Field(default_factory=list)
    abusive: list[str] = Field(default_factory=list)

    @field_validator("negative", "wants_escalation", "abusive", "not_sentiment")
    @classmethod
    def _normalised(cls, phrases: list[str]) -> list[str]:
        cleaned = [normalise(phrase) for phrase in phrases]
        if any(not phrase for phrase in cleaned):
            raise ValueError("phrases must not be empty")
        return cleaned


@dataclass(frozen=True)
class Sentiment:
    negative: bool
    abusive: bool
    wants_escalation: bool
    matched: tuple[str, ...]


def normalise(text: str) -> str:
    """Simplified characters, half-width punctuation and letters (NFKC), lower case."""
    return unicodedata.normalize("NFKC", _to_simplified.convert(text)).lower().strip()


def _contains(text: str, phrase: str) -> bool:
    if _ASCII_WORD.match(phrase):
        # Latin abbreviations ("sb") only as a word of their own, never inside "usb".
        return re.search(rf"(?<![0-9a-z]){re.escape(phrase)}(?![0-9a-z])", text) is not None
    return phrase in text


def classify(text: str, rules: SentimentRules) -> Sentiment:
    """Which rules `text` hits; an exclamation run counts as negative."""
    clean = normalise(text)
    for ordinary in rules.not_sentiment:
        clean = clean.replace(ordinary, " ")
    abusive = [phrase for phrase in rules.abusive if _contains(clean, phrase)]
    escalation = [phrase for phrase in rules.wants_escalation if _contains(clean, phrase)]
    negative = [phrase for phrase in rules.negative if _contains(clean, phrase)]
    matched = [*abusive, *escalation, *negative]
    if re.search(rf"!{{{rules.exclamation_run},}}", clean):
        matched.append("!" * rules.exclamation_run)
    return Sentiment(
        negative=bool(matched),
        abusive=bool(abusive),
        wants_escalation=bool(escalation),
        matched=tuple(matched),
    )


@cached_policy("sentiment.yml")
def load_sentiment_rules(directory: Path | None = None) -> SentimentRules:
    return load_policy("sentiment.yml", SentimentRules, directory=directory)


def analyse(text: str) -> Sentiment:
    """Classify `text` with policy/sentiment.yml (loaded once per process)."""
    return classify(text, load_sentiment_rules())
