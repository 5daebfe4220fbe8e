"""Training inputs as versioned documents: ops edits stored in the database, read by every process.

A document is an editable repository file by its relative path (`data/nlu/faq.yml`, `domain.yml`, …).
The repository file is version 0; every save stores the full text as the next version with its author,
time, base version and unified diff. The current text is the latest version, else the repository file.
Saves carry the version they were made from; a stale base is refused with what changed since (the
unique (path, number) pair makes the check race-free across processes). Every save is validated against
the whole set of documents as it would be after the save (crm.services.content_checks); nothing invalid
is stored. Nothing is cached in the process: each read asks the database.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core.settings import PROJECT_ROOT
from crm.models import ContentVersion

# The documents ops may edit (relative to the repository root); new files may be created under them.
EDITABLE_PATTERNS = (
    "data/nlu/*.yml",
    "data/stories/*.yml",
    "data/rules/*.yml",
    "domain.yml",
    "tests/stories/*.yml",
    # Live policy (crm/policy.py serves the latest version to every process without a restart).
    "policy/escalation.yml",
    "policy/tiers.yml",
    "policy/sentiment.yml",
    "policy/canned_replies.yml",
)
LIVE_POLICY_PREFIX = "policy/"
_MESSAGES_FILE = PROJECT_ROOT / "crm" / "content.zh.yml"


@lru_cache
def _messages() -> dict[str, str]:
    with _MESSAGES_FILE.open(encoding="utf-8") as handle:
        messages: dict[str, str] = yaml.safe_load(handle)
    return messages


def message(code: str, **params: Any) -> str:
    """The ops-facing text of a refusal `code` (crm/content.zh.yml)."""
    return _messages()[code].format(**params)


class ContentError(ValueError):
    """A refused content change: a stable `code` and the message that points at the problem."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.message = message(code, **params)
        super().__init__(f"{code}: {self.message}")


class InvalidContentError(ContentError):
    """The change would make the training data invalid (or the input itself is invalid)."""


class ContentNotFoundError(ContentError):
    """A document version, intent, example, response… that does not exist."""


class ConflictError(ContentError):
    """Someone else changed the thing being saved since the caller read it: `changes` says what."""

    current_version: int = -1
    changes: str = ""


class StaleVersionError(ConflictError):
    """The save was made from an older version than the current one."""

    def __init__(self, document: Document, base: int, changes: str, author: str, at: str) -> None:
        super().__init__("stale_version", path=document.path, base=base, current=document.version, author=author, at=at)
        self.current_version = document.version
        self.changes = changes


@dataclass(frozen=True)
class Document:
    """A document's current state: `version` 0 is the repository file ("" when the file does not exist)."""

    path: str
    version: int
    text: str


@dataclass(frozen=True)
class VersionOut:
    path: str
    number: int
    base_number: int
    author: str
    summary: str
    created_at: datetime
    diff: str


_PATH_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def is_editable(path: str) -> bool:
    """A relative path of plain names matching one of EDITABLE_PATTERNS part for part (no sub-folders)."""
    parts = path.split("/")
    return all(_PATH_PART.fullmatch(part) for part in parts) and any(
        len(parts) == len(pattern.split("/")) and fnmatch.fnmatchcase(path, pattern) for pattern in EDITABLE_PATTERNS
    )


def check_editable(path: str) -> None:
    if not is_editable(path):
        raise ContentNotFoundError("not_editable", path=path, allowed="、".join(EDITABLE_PATTERNS))


def repository_text(path: str, root: Path = PROJECT_ROOT) -> str:
    file = root / path
    return file.read_text(encoding="utf-8") if file.is_file() else ""


def repository_paths(root: Path = PROJECT_ROOT) -> list[str]:
    found: set[str] = set()
    for pattern in EDITABLE_PATTERNS:
        found.update(str(file.relative_to(root)) for file in root.glob(pattern) if file.is_file())
    return sorted(found)


def _latest_rows(session: Session, paths: Iterable[str] | None = None) -> dict[str, ContentVersion]:
    latest = select(ContentVersion.path, func.max(ContentVersion.number).label("number")).group_by(ContentVersion.path)
    if paths is not None:
        latest = latest.where(ContentVersion.path.in_(list(paths)))
    sub = latest.subquery()
    rows = session.scalars(
        select(ContentVersion).join(sub, (ContentVersion.path == sub.c.path) & (ContentVersion.number == sub.c.number))
    )
    return {row.path: row for row in rows}


def read(session: Session, path: str) -> Document:
    """The current text of `path`: its latest saved version, else the repository file."""
    check_editable(path)
    row = _latest_rows(session, [path]).get(path)
    if row is None:
        return Document(path, 0, repository_text(path))
    return Document(path, row.number, row.text)


def current_overrides(session: Session) -> dict[str, str]:
    """Relative path → full current text of every training or test document ops changed (to overlay on the
    repository when training); live policy is served by crm/policy.py instead."""
    return {
        path: row.text for path, row in sorted(_latest_rows(session).items()) if not path.startswith(LIVE_POLICY_PREFIX)
    }


def latest_edit(session: Session, path: str) -> tuple[int, str] | None:
    """(version, text) of the latest ops edit of `path`, or None when it was never edited."""
    row = _latest_rows(session, [path]).get(path)
    return (row.number, row.text) if row is not None else None


def policy_edit_reader(factory: sessionmaker[Session]) -> Callable[[str], tuple[int, str] | None]:
    """For crm.policy.use_policy_edits: reads the latest edit of a policy file in a short session."""

    def read_edit(path: str) -> tuple[int, str] | None:
        with factory() as session:
            return latest_edit(session, path)

    return read_edit


def all_documents(session: Session) -> dict[str, Document]:
    """Every editable document (repository files and documents only ops created), current text."""
    latest = _latest_rows(session)
    documents = {path: Document(path, 0, repository_text(path)) for path in repository_paths()}
    for path, row in latest.items():
        documents[path] = Document(path, row.number, row.text)
    return dict(sorted(documents.items()))


def version_text(session: Session, path: str, number: int) -> str:
    check_editable(path)
    if number == 0:
        return repository_text(path)
    row = session.scalar(select(ContentVersion).where(ContentVersion.path == path, ContentVersion.number == number))
    if row is None:
        raise ContentNotFoundError("version_not_found", path=path, number=number)
    return row.text


def unified_diff(old: str, new: str, path: str, old_label: str, new_label: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"{path}@{old_label}",
        tofile=f"{path}@{new_label}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _out(row: ContentVersion) -> VersionOut:
    return VersionOut(row.path, row.number, row.base_number, row.author, row.summary, row.created_at, row.diff)


def versions(session: Session, path: str) -> list[VersionOut]:
    """Saved versions of `path`, newest first (version 0, the repository file, is implied)."""
    check_editable(path)
    rows = session.scalars(
        select(ContentVersion).where(ContentVersion.path == path).order_by(ContentVersion.number.desc())
    )
    return [_out(row) for row in rows]


def diff(session: Session, path: str, from_number: int, to_number: int) -> str:
    return unified_diff(
        version_text(session, path, from_number),
        version_text(session, path, to_number),
        path,
        str(from_number),
        str(to_number),
    )


# A validator sees the session and every document as it would be after the change.
Validator = Callable[[Session, dict[str, str]], None]


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n")
    return text if text.endswith("\n") or not text else text + "\n"


def save(
    session: Session,
    path: str,
    text: str,
    *,
    base_version: int,
    author: str,
    summary: str,
    validate: Validator | None = None,
) -> VersionOut:
    """Store `text` as the next version of `path`, made from `base_version`; validated first.

    Raises StaleVersionError when `base_version` is not the current version, InvalidContentError when
    the documents would be invalid after the save."""
    current = read(session, path)
    text = _normalise(text)
    if base_version != current.version:
        raise_stale(session, current, base_version)
    if validate is None:
        from crm.services.content_checks import check_all  # the checks import this module

        validate = check_all
    documents = {path: document.text for path, document in all_documents(session).items()}
    documents[path] = text
    validate(session, documents)
    row = ContentVersion(
        path=path,
        number=current.version + 1,
        base_number=current.version,
        text=text,
        diff=unified_diff(current.text, text, path, str(current.version), str(current.version + 1)),
        author=author,
        summary=summary[:255],
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as error:  # another process saved the same next number first
        raise ContentConflictError(path) from error
    return _out(row)


class ContentConflictError(ConflictError):
    """Another save of the same document landed between our read and our write."""

    def __init__(self, path: str) -> None:
        super().__init__("concurrent_save", path=path)


def raise_stale(session: Session, current: Document, base_version: int) -> None:
    try:
        base_text = version_text(session, current.path, base_version)
    except ContentNotFoundError:
        base_text = ""
    latest = session.scalar(
        select(ContentVersion).where(ContentVersion.path == current.path, ContentVersion.number == current.version)
    )
    author = latest.author if latest is not None else "repository"
    at = latest.created_at.isoformat(timespec="seconds") if latest is not None else "-"
    changes = unified_diff(base_text, current.text, current.path, str(base_version), str(current.version))
    raise StaleVersionError(current, base_version, changes, author, at)


def restore(session: Session, path: str, number: int, *, base_version: int, author: str) -> VersionOut:
    """Make version `number`'s text current again, as a new version (validated like any save)."""
    text = version_text(session, path, number)
    return save(session, path, text, base_version=base_version, author=author, summary=f"restore version {number}")


def edit(
    session: Session,
    path: str,
    change: Callable[[str], str],
    *,
    author: str,
    summary: str,
    base_version: int | None = None,
) -> VersionOut:
    """Apply `change` to the current text of `path` and save it (a structured editor's write).

    Without `base_version` the change is applied to whatever is current (it is a delta, so nothing
    another user saved is overwritten); with it, a stale base is refused like a full-text save."""
    current = read(session, path)
    if base_version is not None and base_version != current.version:
        raise_stale(session, current, base_version)
    return save(session, path, change(current.text), base_version=current.version, author=author, summary=summary)
