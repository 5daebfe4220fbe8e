"""Complaint intake rules read from policy/complaints.yml (runtime policy): category hints, severity, dedupe, wording.

Pure functions (no database): the service and the bot's form validation both use them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, field_validator

from core.settings import get_settings
from crm.enums import COMPLAINT_STATUSES, ComplaintCategory, ComplaintSeverity
from crm.policy import POLICY_DIR, load_policy

RULES_FILE = POLICY_DIR / "complaints.yml"
# Punctuation, symbols and spaces are dropped before comparing descriptions (categories P, S, Z, C).
_IGNORED_UNICODE_CATEGORIES = ("P", "S", "Z", "C")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CategoryRule(_Strict):
    code: ComplaintCategory
    label_zh: str
    synonyms: list[str]
    asks_reference: bool
    keywords: list[str]


class SeverityRules(_Strict):
    high_keywords: dict[str, list[str]]
    repeat_window_days: int


class ResponseHours(_Strict):
    normal: int
    high: int


class ComplaintRules(_Strict):
    categories: list[CategoryRule]
    severity: SeverityRules
    default_response_hours: ResponseHours
    dedupe_window_minutes: int
    min_description_chars: int
    request_phrases: list[str]
    negation_markers: list[str]
    no_reference_phrases: list[str]
    status_labels: dict[str, str]
    no_update_note: str
    day_labels: list[str]
    date_format: str
    description_separator: str

    @field_validator("categories")
    @classmethod
    def _every_category_once(cls, value: list[CategoryRule]) -> list[CategoryRule]:
        codes = [rule.code for rule in value]
        if len(set(codes)) != len(codes):
            raise ValueError("a category is listed twice")
        return value

    @field_validator("status_labels")
    @classmethod
    def _every_status_labelled(cls, value: dict[str, str]) -> dict[str, str]:
        missing = set(COMPLAINT_STATUSES) - set(value)
        if missing:
            raise ValueError(f"status labels missing for {sorted(missing)}")
        return value

    def category(self, code: str) -> CategoryRule:
        return next(rule for rule in self.categories if rule.code == code)

    def category_codes(self) -> list[str]:
        return [rule.code for rule in self.categories]


@lru_cache
def load_rules(directory: Path | None = None) -> ComplaintRules:
    """policy/complaints.yml (or `directory`/complaints.yml), validated and read once per process (edit and
    restart); a mistake is refused with its file and line (`python -m crm.policy_check`)."""
    return load_policy(RULES_FILE.name, ComplaintRules, directory=directory or RULES_FILE.parent)


def fold(text: str) -> str:
    """NFKC (full-width -> ASCII) and lower case, for keyword matching."""
    return unicodedata.normalize("NFKC", text or "").lower()


def normalize_description(text: str) -> str:
    """What two submissions of one complaint share: folded text without spaces, punctuation or emoji."""
    return "".join(ch for ch in fold(text) if not unicodedata.category(ch).startswith(_IGNORED_UNICODE_CATEGORIES))


def drop_negated(text: str, rules: ComplaintRules | None = None) -> str:
    """Drop what a negation denies: '不是服务态度，是菜里有虫子' -> '，是菜里有虫子'."""
    rules = rules or load_rules()
    markers = "|".join(re.escape(marker) for marker in sorted(rules.negation_markers, key=len, reverse=True))
    return re.sub(rf"(?:{markers})[^，,。；;！!？?是]*", "", fold(text))


def category_scores(text: str, rules: ComplaintRules | None = None) -> dict[str, int]:
    """Each category's keyword score for `text` (sum of its keywords' lengths; negations dropped)."""
    rules = rules or load_rules()
    folded = drop_negated(text, rules)
    scores: dict[str, int] = {}
    for rule in rules.categories:
        score = sum(len(keyword) for keyword in rule.keywords if fold(keyword) in folded)
        if score:
            scores[rule.code] = score
    return scores


def infer_category(text: str, rules: ComplaintRules | None = None) -> str | None:
    """The category the keyword hints point to, or None when nothing or a tie matched (ask the customer)."""
    scores = category_scores(text, rules)
    if not scores:
        return None
    best = max(scores.values())
    winners = [code for code, score in scores.items() if score == best]
    return winners[0] if len(winners) == 1 else None


def category_from_answer(text: str, rules: ComplaintRules | None = None) -> str | None:
    """A category named directly (a button payload or '是卫生问题'), else None; the longest synonym wins."""
    rules = rules or load_rules()
    folded = drop_negated(text, rules)
    best: tuple[int, str] | None = None
    for rule in rules.categories:
        for synonym in (rule.label_zh, *rule.synonyms):
            if fold(synonym) in folded and (best is None or len(synonym) > best[0]):
                best = (len(synonym), rule.code)
    return best[1] if best else None


def is_substantive_description(text: str, rules: ComplaintRules | None = None) -> bool:
    """True when a message says what happened, not only 'I want to complain' or a vague 差评."""
    rules = rules or load_rules()
    if category_scores(text, rules):
        return True
    remainder = normalize_description(text)
    for phrase in sorted(rules.request_phrases, key=len, reverse=True):
        remainder = remainder.replace(normalize_description(phrase), "")
    return len(remainder) >= rules.min_description_chars


def means_no_reference(text: str, rules: ComplaintRules | None = None) -> bool:
    """True when the answer to 'any related order or booking?' means none (没有, 不记得…)."""
    rules = rules or load_rules()
    folded = normalize_description(text)
    return any(normalize_description(phrase) in folded for phrase in rules.no_reference_phrases) and len(folded) <= 12


def high_severity_reasons(description: str, rules: ComplaintRules | None = None) -> list[str]:
    """The names of the severity keyword groups the description hits (e.g. ['food_safety'])."""
    rules = rules or load_rules()
    folded = fold(description)
    return [
        group
        for group, keywords in rules.severity.high_keywords.items()
        if any(fold(keyword) in folded for keyword in keywords)
    ]


def severity_for(description: str, *, repeated: bool, rules: ComplaintRules | None = None) -> ComplaintSeverity:
    """'high' for food safety, injury, threats to go public/legal, or a repeated complaint; else 'normal'."""
    return "high" if repeated or high_severity_reasons(description, rules) else "normal"


def dedupe_bucket(moment: datetime, window_minutes: int) -> int:
    """The index of the dedupe window `moment` falls in (windows are aligned on the Unix epoch)."""
    return int(moment.timestamp() // (window_minutes * 60))


def fingerprint(subject: str, category: str, description: str, bucket: int) -> str:
    """sha256 hex of subject (customer or mobile) + category + normalised description + window bucket."""
    material = "\x1f".join((subject, category, normalize_description(description), str(bucket)))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def due_text(due_at: datetime, *, now: datetime, rules: ComplaintRules | None = None) -> str:
    """'今天18:30', '明天09:00' or '11月23日 09:00' in the business timezone."""
    rules = rules or load_rules()
    zone = ZoneInfo(get_settings().timezone)
    local_due, local_now = due_at.astimezone(zone), now.astimezone(zone)
    days = (local_due.date() - local_now.date()).days
    clock = local_due.strftime("%H:%M")
    if 0 <= days < len(rules.day_labels):
        return f"{rules.day_labels[days]}{clock}"
    return f"{rules.date_format.format(month=local_due.month, day=local_due.day)} {clock}"


def repeat_window(now: datetime, rules: ComplaintRules | None = None) -> datetime:
    rules = rules or load_rules()
    return now - timedelta(days=rules.severity.repeat_window_days)


def clean_description(text: str) -> str:
    """The customer's words with runs of whitespace collapsed."""
    return re.sub(r"\s+", " ", text or "").strip()
