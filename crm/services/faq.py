"""FAQ answers with scope overrides: store-specific beats business-specific beats general."""

from __future__ import annotations

from sqlalchemy.orm import Session

from crm.models import FaqEntry
from crm.repositories import FaqRepository, StoreRepository
from crm.schemas import FaqAnswerOut


def _scope(entry: FaqEntry) -> str:
    if entry.store_id is not None:
        return "store"
    return "business" if entry.business_code is not None else "general"


_PRECEDENCE = {"store": 0, "business": 1, "general": 2}


def get_answer(
    session: Session, *, key: str, business_code: str | None = None, store_code: str | None = None
) -> FaqAnswerOut | None:
    """The most specific active answer for `key`; a known store also implies its business."""
    store_id: int | None = None
    if store_code is not None:
        store = StoreRepository(session).get_by_code(store_code)
        if store is not None:
            store_id = store.id
            business_code = business_code or store.business.code
    candidates = FaqRepository(session).candidates(key, business_code=business_code, store_id=store_id)
    if not candidates:
        return None
    best = min(candidates, key=lambda entry: (_PRECEDENCE[_scope(entry)], entry.id))
    return FaqAnswerOut(
        key=best.key,
        scope=_scope(best),  # type: ignore[arg-type]
        business_code=best.business_code,
        store_code=best.store.code if best.store is not None else None,
        question_zh=best.question_zh,
        answer_zh=best.answer_zh,
        confidence_threshold=best.confidence_threshold,
    )


def list_keys(session: Session) -> list[str]:
    """Every FAQ key with at least one active answer."""
    return FaqRepository(session).keys()


def questions_for(session: Session, *, keys: list[str]) -> dict[str, str]:
    """The canonical question of each key (general row), for "您是想问…" suggestions; unknown keys are left out."""
    questions: dict[str, str] = {}
    for entry in FaqRepository(session).general_entries(keys):
        questions.setdefault(entry.key, entry.question_zh)
    return questions


def key_for_question(session: Session, *, question: str) -> str | None:
    """The key whose canonical question the customer sent verbatim (a suggestion button was pressed)."""
    return FaqRepository(session).key_for_question(question.strip())
