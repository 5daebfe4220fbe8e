"""The ops console's editing API: intents and examples, FAQ entries, wording, synonyms and lookup tables,
full-text documents (stories, rules, NLU, domain) with versions, diff and restore. Roles ops and supervisor.

Every write goes through crm.services.content: validated over all training documents, stored as a new
version with author, time and diff; a stale base version is refused with 409 and what changed. Refusals
are `{"detail": {"code", "message"}}` (422 invalid, 404 unknown, 409 stale).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from api.auth import SessionFactoryDep, Staff, require_roles
from api.deps import SettingsDep
from crm.services import content, content_faq, content_nlu, content_rasa, content_wording
from crm.services.content import ConflictError, ContentError, ContentNotFoundError, VersionOut
from crm.services.content_checks import DOMAIN_PATH, check_all

router = APIRouter(prefix="/api/ops", tags=["ops console: editing"])
OpsStaff = Annotated[Staff, Depends(require_roles("ops", "supervisor"))]
T = TypeVar("T")


@contextmanager
def refusals() -> Iterator[None]:
    """Map the content service's refusals to HTTP errors with `{"code", "message"}`."""
    try:
        yield
    except ConflictError as error:
        detail: dict[str, Any] = {
            "code": error.code,
            "message": error.message,
            "current_version": error.current_version,
            "changes": error.changes,
        }
        raise HTTPException(status_code=409, detail=detail) from error
    except ContentNotFoundError as error:
        raise HTTPException(status_code=404, detail={"code": error.code, "message": error.message}) from error
    except ContentError as error:
        raise HTTPException(status_code=422, detail={"code": error.code, "message": error.message}) from error


def write(factory: Any, work: Callable[[Session], T]) -> T:
    with refusals(), factory.begin() as session:
        return work(session)


class VersionView(BaseModel):
    path: str
    number: int
    base_number: int
    author: str
    summary: str
    created_at: datetime
    diff: str

    @classmethod
    def of(cls, version: VersionOut) -> VersionView:
        return cls(**asdict(version))


# ---- intents and examples ---------------------------------------------------------------------------


class IntentView(BaseModel):
    name: str
    examples: list[str]


class IntentsOut(BaseModel):
    items: list[IntentView]


# Example texts are checked by the service (blank, multi-line, too long), so that every refusal of an
# example has the exact shape {"detail": {"code", "message"}}.
class ExampleIn(BaseModel):
    text: str = ""


class ExampleEditIn(BaseModel):
    example: str = Field(description="the example as it is now")
    text: str = Field(description="the new wording")


class ExampleMoveIn(BaseModel):
    text: str
    to: str = Field(min_length=1, max_length=128, description="the intent to move it to")


class ExampleOut(BaseModel):
    intent: str
    text: str
    version: VersionView


class ExampleHitView(BaseModel):
    intent: str
    example: str
    path: str


class SearchOut(BaseModel):
    items: list[ExampleHitView]


@router.get("/intents", response_model=IntentsOut)
def list_intents(staff: OpsStaff, factory: SessionFactoryDep) -> IntentsOut:
    """Every intent with its examples (retrieval intents as `faq/<key>`)."""
    with refusals(), factory() as session:
        return IntentsOut(items=[IntentView(**asdict(item)) for item in content_nlu.list_intents(session)])


@router.get("/examples", response_model=SearchOut)
def search_examples(staff: OpsStaff, factory: SessionFactoryDep, q: Annotated[str, Query(min_length=1)]) -> SearchOut:
    """Examples (or intents) containing `q`, case and width folded."""
    with refusals(), factory() as session:
        return SearchOut(items=[ExampleHitView(**asdict(hit)) for hit in content_nlu.search(session, q)])


@router.post("/intents/{name:path}/examples", response_model=ExampleOut, status_code=201)
def add_example(name: str, body: ExampleIn, staff: OpsStaff, factory: SessionFactoryDep) -> ExampleOut:
    """Add an example; 422 names the conflict (already under this or another intent), 404 for an unknown intent."""
    version = write(factory, lambda s: content_nlu.add_example(s, name, body.text, author=staff.username))
    return ExampleOut(intent=name, text=body.text.strip(), version=VersionView.of(version))


@router.patch("/intents/{name:path}/examples", response_model=ExampleOut)
def edit_example(name: str, body: ExampleEditIn, staff: OpsStaff, factory: SessionFactoryDep) -> ExampleOut:
    """Reword an example in place."""
    version = write(
        factory, lambda s: content_nlu.edit_example(s, name, body.example, body.text, author=staff.username)
    )
    return ExampleOut(intent=name, text=body.text.strip(), version=VersionView.of(version))


@router.delete("/intents/{name:path}/examples", response_model=VersionView)
def delete_example(
    name: str, staff: OpsStaff, factory: SessionFactoryDep, text: Annotated[str, Query(min_length=1)]
) -> VersionView:
    """Delete an example (`?text=`)."""
    return VersionView.of(write(factory, lambda s: content_nlu.delete_example(s, name, text, author=staff.username)))


@router.post("/intents/{name:path}/examples/move", response_model=ExampleOut)
def move_example(name: str, body: ExampleMoveIn, staff: OpsStaff, factory: SessionFactoryDep) -> ExampleOut:
    """Move an example to another intent (both documents change in one transaction)."""
    version = write(factory, lambda s: content_nlu.move_example(s, name, body.text, body.to, author=staff.username))
    return ExampleOut(intent=body.to, text=body.text.strip(), version=VersionView.of(version))


# ---- synonyms and lookup tables -------------------------------------------------------------------


class TableView(BaseModel):
    kind: str
    name: str
    entries: list[str]
    path: str


class TablesOut(BaseModel):
    items: list[TableView]


class TableIn(BaseModel):
    entries: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)


def _tables(kind: str, factory: Any) -> TablesOut:
    with refusals(), factory() as session:
        return TablesOut(items=[TableView(**asdict(table)) for table in content_nlu.list_tables(session, kind)])


@router.get("/synonyms", response_model=TablesOut)
def list_synonyms(staff: OpsStaff, factory: SessionFactoryDep) -> TablesOut:
    """Entity synonyms: the value entities are mapped to and the words that mean it."""
    return _tables("synonym", factory)


@router.put("/synonyms/{name}", response_model=VersionView)
def set_synonym(name: str, body: TableIn, staff: OpsStaff, factory: SessionFactoryDep) -> VersionView:
    """Replace (or create) a synonym's words; a word already meaning another value is refused."""
    return VersionView.of(
        write(factory, lambda s: content_nlu.set_table(s, "synonym", name, body.entries, author=staff.username))
    )


@router.get("/lookups", response_model=TablesOut)
def list_lookups(staff: OpsStaff, factory: SessionFactoryDep) -> TablesOut:
    """Lookup tables (business words, services, room types…)."""
    return _tables("lookup", factory)


class CrmVocabularyOut(BaseModel):
    store: list[str]
    service: list[str]


@router.get("/lookups/crm", response_model=CrmVocabularyOut)
def crm_vocabulary(staff: OpsStaff, factory: SessionFactoryDep) -> CrmVocabularyOut:
    """Store and service names in the CRM that no lookup table lists yet."""
    with refusals(), factory() as session:
        return CrmVocabularyOut(**content_nlu.crm_vocabulary(session))


@router.put("/lookups/{name}", response_model=VersionView)
def set_lookup(name: str, body: TableIn, staff: OpsStaff, factory: SessionFactoryDep) -> VersionView:
    """Replace (or create) a lookup table's entries."""
    return VersionView.of(
        write(factory, lambda s: content_nlu.set_table(s, "lookup", name, body.entries, author=staff.username))
    )


# ---- FAQ entries ----------------------------------------------------------------------------------


class FaqEntryView(BaseModel):
    id: int
    key: str
    business_code: str | None
    store_code: str | None
    question: str
    answer: str
    threshold: float
    active: bool
    examples: list[str] = []


class FaqEntriesOut(BaseModel):
    items: list[FaqEntryView]


class FaqEntryPatch(BaseModel):
    answer: str | None = Field(default=None, max_length=2000)
    threshold: float | None = Field(default=None, ge=0, le=1)
    question: str | None = Field(default=None, max_length=200)
    active: bool | None = None
    # What the editor showed; a row changed since then is refused with 409 instead of overwritten.
    expected_answer: str | None = Field(default=None, max_length=2000)
    expected_threshold: float | None = Field(default=None, ge=0, le=1)


class FaqEntryIn(BaseModel):
    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    question: str = Field(min_length=1, max_length=200)
    answer: str = Field(min_length=1, max_length=2000)
    threshold: float = Field(default=0.6, ge=0, le=1)


@router.get("/faq", response_model=FaqEntriesOut)
def list_faq(staff: OpsStaff, factory: SessionFactoryDep) -> FaqEntriesOut:
    """Every FAQ answer (general, business and store rows) with the questions (NLU examples) of its key."""
    with refusals(), factory() as session:
        examples = {item.name: item.examples for item in content_nlu.list_intents(session)}
        return FaqEntriesOut(
            items=[
                FaqEntryView(**asdict(entry), examples=examples.get(f"faq/{entry.key}", []))
                for entry in content_faq.list_entries(session)
            ]
        )


@router.patch("/faq/{entry_id}", response_model=FaqEntryView)
def update_faq(entry_id: int, body: FaqEntryPatch, staff: OpsStaff, factory: SessionFactoryDep) -> FaqEntryView:
    """Change an answer, its threshold, canonical question or active flag: live on the next message."""
    entry = write(factory, lambda s: content_faq.update_entry(s, entry_id, **body.model_dump(exclude_none=True)))
    return FaqEntryView(**asdict(entry))


@router.post("/faq", response_model=FaqEntryView, status_code=201)
def create_faq(body: FaqEntryIn, staff: OpsStaff, factory: SessionFactoryDep) -> FaqEntryView:
    """A new FAQ answer (a new key gets its answer first, then its questions as examples of `faq/<key>`)."""
    return FaqEntryView(**asdict(write(factory, lambda s: content_faq.create_entry(s, **body.model_dump()))))


# ---- wording catalog --------------------------------------------------------------------------------


class WordingView(BaseModel):
    name: str
    texts: list[str]
    variables: list[str]
    used: list[str]


class WordingOut(BaseModel):
    items: list[WordingView]
    version: int


class WordingIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    base_version: int | None = Field(default=None, ge=0, description="domain.yml version this edit was made from")


@router.get("/wording", response_model=WordingOut)
def list_wording(staff: OpsStaff, factory: SessionFactoryDep) -> WordingOut:
    """Every response text of the bot with the variables it may use; `version` is domain.yml's."""
    with refusals(), factory() as session:
        return WordingOut(
            items=[WordingView(**asdict(item)) for item in content_wording.list_wording(session)],
            version=content.read(session, DOMAIN_PATH).version,
        )


@router.put("/wording/{name}/{index}", response_model=VersionView)
def set_wording(name: str, index: int, body: WordingIn, staff: OpsStaff, factory: SessionFactoryDep) -> VersionView:
    """Replace variant `index` (0-based) of response `name`; an unknown `{variable}` is refused."""
    return VersionView.of(
        write(
            factory,
            lambda s: content_wording.set_wording(
                s, name, index, body.text, author=staff.username, base_version=body.base_version
            ),
        )
    )


# ---- documents: full text, versions, diff, restore --------------------------------------------------


class DocumentView(BaseModel):
    path: str
    version: int


class DocumentsOut(BaseModel):
    items: list[DocumentView]


class DocumentOut(DocumentView):
    text: str


class DocumentIn(BaseModel):
    path: str = Field(min_length=1, max_length=255)
    text: str = Field(max_length=500_000)
    base_version: int = Field(ge=0, description="the version the text was edited from")
    summary: str = Field(default="edit", max_length=255)


class RestoreIn(BaseModel):
    path: str = Field(min_length=1, max_length=255)
    version: int = Field(ge=0, description="the version to make current again (0 = the repository file)")
    base_version: int = Field(ge=0)


class VersionsOut(BaseModel):
    path: str
    current: int
    items: list[VersionView]


class DiffOut(BaseModel):
    path: str
    diff: str


@router.get("/documents", response_model=DocumentsOut)
def list_documents(staff: OpsStaff, factory: SessionFactoryDep) -> DocumentsOut:
    """Every editable training document and its current version (0 = unchanged repository file)."""
    with refusals(), factory() as session:
        return DocumentsOut(
            items=[DocumentView(path=d.path, version=d.version) for d in content.all_documents(session).values()]
        )


@router.get("/document", response_model=DocumentOut)
def read_document(staff: OpsStaff, factory: SessionFactoryDep, path: Annotated[str, Query()]) -> DocumentOut:
    """The current text of a document (`?path=data/stories/orders.yml`)."""
    with refusals(), factory() as session:
        document = content.read(session, path)
        return DocumentOut(path=document.path, version=document.version, text=document.text)


def _rasa_validate(body: DocumentIn, factory: Any, settings: Any) -> None:
    """`rasa data validate` on the documents as they would be after the save, outside any write
    transaction (it takes seconds; SQLite would hold its write lock meanwhile). The save itself re-checks
    the base version, so a save that lands in between still makes this one stale."""
    if body.path.startswith(content.LIVE_POLICY_PREFIX):
        return  # live policy is no training data: its own loaders check it (content_checks.check_policy)
    if not (settings.ops_rasa_validate and content_rasa.available()):
        return
    with refusals(), factory() as session:
        content.check_editable(body.path)
        documents = {path: document.text for path, document in content.all_documents(session).items()}
    documents[body.path] = body.text
    with refusals():
        content_rasa.validate(documents, timeout_seconds=settings.ops_rasa_validate_timeout_seconds)


@router.put("/document", response_model=VersionView)
def save_document(body: DocumentIn, staff: OpsStaff, factory: SessionFactoryDep, settings: SettingsDep) -> VersionView:
    """Save a document's full text (the YAML editor): schema checks plus `rasa data validate`; 409 when stale."""
    with refusals(), factory() as session:  # the quick checks first: a stale or broken save fails at once
        current = content.read(session, body.path)
        if current.version == body.base_version:
            documents = {path: document.text for path, document in content.all_documents(session).items()}
            documents[body.path] = body.text
            check_all(session, documents)
    _rasa_validate(body, factory, settings)
    return VersionView.of(
        write(
            factory,
            lambda s: content.save(
                s, body.path, body.text, base_version=body.base_version, author=staff.username, summary=body.summary
            ),
        )
    )


@router.get("/document/versions", response_model=VersionsOut)
def document_versions(staff: OpsStaff, factory: SessionFactoryDep, path: Annotated[str, Query()]) -> VersionsOut:
    """Saved versions of a document, newest first, each with author, time, summary and diff."""
    with refusals(), factory() as session:
        return VersionsOut(
            path=path,
            current=content.read(session, path).version,
            items=[VersionView.of(version) for version in content.versions(session, path)],
        )


@router.get("/document/diff", response_model=DiffOut)
def document_diff(
    staff: OpsStaff,
    factory: SessionFactoryDep,
    path: Annotated[str, Query()],
    from_version: Annotated[int, Query(alias="from", ge=0)],
    to_version: Annotated[int, Query(alias="to", ge=0)],
) -> DiffOut:
    """Unified diff between two versions of a document."""
    with refusals(), factory() as session:
        return DiffOut(path=path, diff=content.diff(session, path, from_version, to_version))


@router.post("/document/restore", response_model=VersionView)
def restore_document(body: RestoreIn, staff: OpsStaff, factory: SessionFactoryDep) -> VersionView:
    """Make an earlier version current again, as a new version (validated; 409 when `base_version` is stale)."""
    return VersionView.of(
        write(
            factory,
            lambda s: content.restore(
                s, body.path, body.version, base_version=body.base_version, author=staff.username
            ),
        )
    )
