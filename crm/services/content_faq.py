"""FAQ entries for the ops console: answers and thresholds live in the CRM (`faq_entry`, read on every
message, so an edit is live at once); the questions are the NLU examples of the `faq/<key>` intents."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from crm.models import FaqEntry
from crm.services.content import ConflictError, ContentNotFoundError, InvalidContentError


@dataclass(frozen=True)
class FaqEntryOut:
    id: int
    key: str
    business_code: str | None
    store_code: str | None
    question: str
    answer: str
    threshold: float
    active: bool


def _out(entry: FaqEntry) -> FaqEntryOut:
    return FaqEntryOut(
        entry.id,
        entry.key,
        entry.business_code,
        entry.store.code if entry.store is not None else None,
        entry.question_zh,
        entry.answer_zh,
        entry.confidence_threshold,
        entry.active,
    )


class FaqChangedError(ConflictError):
    """The answer or threshold changed since the editor loaded it (another ops user saved)."""

    def __init__(self, entry: FaqEntry) -> None:
        super().__init__("faq_changed", key=entry.key)
        self.changes = f"answer: {entry.answer_zh}\nthreshold: {entry.confidence_threshold}"


def list_entries(session: Session) -> list[FaqEntryOut]:
    rows = session.scalars(select(FaqEntry).options(joinedload(FaqEntry.store)).order_by(FaqEntry.key, FaqEntry.id))
    return [_out(row) for row in rows]


def _check(answer: str | None, threshold: float | None) -> None:
    if answer is not None and not answer.strip():
        raise InvalidContentError("empty_wording")
    if threshold is not None and not 0 <= threshold <= 1:
        raise InvalidContentError("threshold_range")


def update_entry(
    session: Session,
    entry_id: int,
    *,
    answer: str | None = None,
    threshold: float | None = None,
    question: str | None = None,
    active: bool | None = None,
    expected_answer: str | None = None,
    expected_threshold: float | None = None,
) -> FaqEntryOut:
    """Change an answer; `expected_*` are what the editor showed: when the row no longer has them, another
    user saved in between and the change is refused (FaqChangedError) instead of overwriting theirs."""
    _check(answer, threshold)
    # Locked for the rest of the transaction, so the compare-and-set below cannot interleave.
    entry = session.get(FaqEntry, entry_id, with_for_update=True)
    if entry is None:
        raise ContentNotFoundError("faq_not_found", id=entry_id)
    if (expected_answer is not None and expected_answer != entry.answer_zh) or (
        expected_threshold is not None and abs(expected_threshold - entry.confidence_threshold) > 1e-9
    ):
        raise FaqChangedError(entry)
    if answer is not None:
        entry.answer_zh = answer.strip()
    if threshold is not None:
        entry.confidence_threshold = threshold
    if question is not None and question.strip():
        entry.question_zh = question.strip()
    if active is False and entry.active:
        _refuse_leaving_examples_without_answer(session, entry)
    if active is not None:
        entry.active = active
    session.flush()
    return _out(entry)


def _refuse_leaving_examples_without_answer(session: Session, entry: FaqEntry) -> None:
    """Deactivating the last active answer of a key whose questions are still NLU examples would leave the
    bot predicting a key it cannot answer (the same rule as adding examples to a key without an answer)."""
    others = session.scalars(
        select(FaqEntry.id).where(FaqEntry.key == entry.key, FaqEntry.active.is_(True), FaqEntry.id != entry.id)
    ).first()
    if others is not None:
        return
    from crm.services import content_nlu  # content_nlu → content_checks → faq; imported late to keep this small

    examples = next((i.examples for i in content_nlu.list_intents(session) if i.name == f"faq/{entry.key}"), [])
    if examples:
        raise InvalidContentError("faq_last_answer", key=entry.key, count=len(examples))


def create_entry(session: Session, *, key: str, question: str, answer: str, threshold: float = 0.6) -> FaqEntryOut:
    """A new general answer for `key` (a new FAQ topic gets its answer first, then its examples)."""
    _check(answer, threshold)
    if not key.strip() or not question.strip():
        raise InvalidContentError("empty_wording")
    entry = FaqEntry(
        key=key.strip(), question_zh=question.strip(), answer_zh=answer.strip(), confidence_threshold=threshold
    )
    session.add(entry)
    session.flush()
    return _out(entry)
