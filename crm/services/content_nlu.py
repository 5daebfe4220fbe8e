"""Structured views over the NLU documents: intents and examples, synonyms, lookup tables.

Each edit reads the current text of the document concerned, changes it with a round-trip YAML parser
(comments and layout are kept), and saves it as a new version through crm.services.content (validated
over all documents; nothing invalid is written).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import LiteralScalarString
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.models import Service, Store
from crm.services import content
from crm.services import faq as faq_service
from crm.services.content import ContentNotFoundError, InvalidContentError, VersionOut
from crm.services.content_checks import (
    FAQ_INTENT,
    NLU_PREFIX,
    domain_facts,
    intent_blocks,
    parse_examples,
    plain_example,
)

# Where examples of an intent that has none yet, new synonyms and new lookup tables go.
OPS_NLU_PATH = "data/nlu/ops.yml"
_EMPTY_NLU = 'version: "3.1"\n\nnlu: []\n'


def _yaml() -> YAML:
    handler = YAML()
    handler.preserve_quotes = True
    handler.width = 4096
    handler.indent(mapping=2, sequence=4, offset=2)
    return handler


def rewrite(text: str, change: Callable[[Any], None]) -> str:
    """`text` with `change` applied to its round-trip parse (comments and layout kept)."""
    handler = _yaml()
    data = handler.load(text or _EMPTY_NLU)
    change(data)
    out = io.StringIO()
    handler.dump(data, out)
    return out.getvalue()


def _nlu(data: Any) -> Any:
    """The `nlu:` list of a parsed NLU document (created when missing or empty)."""
    if data.get("nlu") is None:
        data["nlu"] = []
    return data["nlu"]


def example_block(examples: list[str]) -> LiteralScalarString:
    return LiteralScalarString("".join(f"- {example}\n" for example in examples))


@dataclass(frozen=True)
class IntentOut:
    name: str
    examples: list[str]


@dataclass(frozen=True)
class ExampleHit:
    intent: str
    example: str
    path: str


def _documents(session: Session) -> dict[str, str]:
    return {path: document.text for path, document in content.all_documents(session).items()}


def list_intents(session: Session) -> list[IntentOut]:
    """Every intent (domain order, retrieval intents `faq/<key>` after `faq`) with its examples."""
    documents = _documents(session)
    examples: dict[str, list[str]] = {name: [] for name in sorted(domain_facts(documents).intents)}
    for block in intent_blocks(documents):
        examples.setdefault(block.intent, []).extend(block.examples)
    for key in faq_service.list_keys(session):  # a new FAQ topic is listed before it has questions
        examples.setdefault(f"{FAQ_INTENT}/{key}", [])
    if any(name.startswith(FAQ_INTENT + "/") for name in examples) and not examples.get(FAQ_INTENT):
        examples.pop(FAQ_INTENT, None)  # listed through its keys
    return [IntentOut(name, found) for name, found in sorted(examples.items())]


def search(session: Session, query: str) -> list[ExampleHit]:
    needle = plain_example(query)
    return [
        ExampleHit(block.intent, example, block.path)
        for block in intent_blocks(_documents(session))
        for example in block.examples
        if needle in plain_example(example) or needle in block.intent
    ]


MAX_EXAMPLE_CHARS = 500


def _clean(text: str) -> str:
    text = text.strip()
    if not text or "\n" in text or "\r" in text:
        raise InvalidContentError("empty_example")
    if len(text) > MAX_EXAMPLE_CHARS:
        raise InvalidContentError("example_too_long", limit=MAX_EXAMPLE_CHARS, length=len(text))
    return text


def _owner(documents: dict[str, str], example: str) -> tuple[str, str] | None:
    key = plain_example(example)
    for block in intent_blocks(documents):
        if any(plain_example(existing) == key for existing in block.examples):
            return block.intent, block.path
    return None


def _check_intent(documents: dict[str, str], intent: str) -> None:
    # A retrieval intent's examples belong to one of its keys (faq/<key>), never to the bare name.
    if not domain_facts(documents).knows_intent(intent) or intent.endswith("/") or intent == FAQ_INTENT:
        raise ContentNotFoundError("unknown_intent", intent=intent)


def add_example(session: Session, intent: str, text: str, *, author: str) -> VersionOut:
    """Add `text` under `intent` (its first block; a new block in data/nlu/ops.yml when it has none)."""
    text = _clean(text)
    documents = _documents(session)
    _check_intent(documents, intent)
    owner = _owner(documents, text)
    if owner is not None:
        if owner[0] == intent:
            raise InvalidContentError("duplicate_example", text=text, intent=intent)
        raise InvalidContentError("example_in_other_intent", text=text, other=owner[0], path=owner[1])
    target = next((block.path for block in intent_blocks(documents) if block.intent == intent), OPS_NLU_PATH)

    def change(data: Any) -> None:
        for item in _nlu(data):
            if isinstance(item, dict) and item.get("intent") == intent:
                item["examples"] = example_block([*parse_examples(item.get("examples")), text])
                return
        block = CommentedMap()
        block["intent"] = intent
        block["examples"] = example_block([text])
        _nlu(data).append(block)

    return content.edit(
        session, target, lambda old: rewrite(old, change), author=author, summary=f"add example to {intent}: {text}"
    )


def _remove(session: Session, intent: str, text: str, *, author: str, summary: str) -> VersionOut:
    documents = _documents(session)
    key = plain_example(text)
    for block in intent_blocks(documents):
        if block.intent == intent and any(plain_example(example) == key for example in block.examples):
            path = block.path
            break
    else:
        raise ContentNotFoundError("example_not_found", intent=intent, text=text)

    def change(data: Any) -> None:
        for item in _nlu(data):
            if isinstance(item, dict) and item.get("intent") == intent:
                examples = parse_examples(item.get("examples"))
                kept = [example for example in examples if plain_example(example) != key]
                if len(kept) != len(examples):
                    item["examples"] = example_block(kept)
                    return

    return content.edit(session, path, lambda old: rewrite(old, change), author=author, summary=summary)


def delete_example(session: Session, intent: str, text: str, *, author: str) -> VersionOut:
    return _remove(session, intent, text, author=author, summary=f"delete example of {intent}: {text}")


def edit_example(session: Session, intent: str, old: str, new: str, *, author: str) -> VersionOut:
    """Replace example `old` of `intent` by `new`, in place."""
    new = _clean(new)
    documents = _documents(session)
    owner = _owner(documents, new)
    if owner is not None and plain_example(new) != plain_example(old):
        if owner[0] == intent:
            raise InvalidContentError("duplicate_example", text=new, intent=intent)
        raise InvalidContentError("example_in_other_intent", text=new, other=owner[0], path=owner[1])
    key = plain_example(old)
    for block in intent_blocks(documents):
        if block.intent == intent and any(plain_example(example) == key for example in block.examples):
            path = block.path
            break
    else:
        raise ContentNotFoundError("example_not_found", intent=intent, text=old)

    def change(data: Any) -> None:
        for item in _nlu(data):
            if isinstance(item, dict) and item.get("intent") == intent:
                examples = parse_examples(item.get("examples"))
                if any(plain_example(example) == key for example in examples):
                    item["examples"] = example_block([new if plain_example(e) == key else e for e in examples])
                    return

    return content.edit(
        session, path, lambda text: rewrite(text, change), author=author, summary=f"edit example of {intent}: {new}"
    )


def move_example(session: Session, intent: str, text: str, to: str, *, author: str) -> VersionOut:
    """Move an example to another intent (one transaction: both saves land or neither)."""
    _check_intent(_documents(session), to)
    _remove(session, intent, text, author=author, summary=f"move example from {intent} to {to}: {text}")
    return add_example(session, to, text, author=author)


# ---- synonyms and lookup tables -------------------------------------------------------------------


@dataclass(frozen=True)
class TableOut:
    """A synonym (`name` = the value entities are mapped to) or a lookup table, with its entries."""

    kind: str
    name: str
    entries: list[str]
    path: str


def list_tables(session: Session, kind: str) -> list[TableOut]:
    from crm.services.content_checks import load_yaml

    tables: list[TableOut] = []
    for path, text in _documents(session).items():
        if not path.startswith(NLU_PREFIX):
            continue
        for item in load_yaml(path, text).get("nlu") or []:
            if isinstance(item, dict) and kind in item:
                tables.append(TableOut(kind, str(item[kind]), parse_examples(item.get("examples")), path))
    return tables


def set_table(session: Session, kind: str, name: str, entries: list[str], *, author: str) -> VersionOut:
    """Replace the entries of synonym/lookup `name` (created in data/nlu/ops.yml when new)."""
    cleaned: list[str] = []
    for entry in entries:
        entry = _clean(entry)
        if entry not in cleaned:
            cleaned.append(entry)
    existing = list_tables(session, kind)
    if kind == "synonym":
        for table in existing:
            if table.name == name:
                continue
            for entry in cleaned:
                if plain_example(entry) in {plain_example(other) for other in table.entries}:
                    raise InvalidContentError("duplicate_synonym", text=entry, other=table.name)
    target = next((table.path for table in existing if table.name == name), OPS_NLU_PATH)

    def change(data: Any) -> None:
        for item in _nlu(data):
            if isinstance(item, dict) and str(item.get(kind)) == name:
                item["examples"] = example_block(cleaned)
                return
        block = CommentedMap()
        block[kind] = name
        block["examples"] = example_block(cleaned)
        _nlu(data).append(block)

    return content.edit(
        session, target, lambda text: rewrite(text, change), author=author, summary=f"set {kind} {name}"
    )


def crm_vocabulary(session: Session) -> dict[str, list[str]]:
    """Store and service names from the CRM that no lookup table lists yet (to add them with one click)."""
    listed = {plain_example(entry) for table in list_tables(session, "lookup") for entry in table.entries}
    names = {
        "store": session.scalars(select(Store.name).distinct().order_by(Store.name)).all(),
        "service": session.scalars(select(Service.name).distinct().order_by(Service.name)).all(),
    }
    return {kind: [name for name in found if plain_example(name) not in listed] for kind, found in names.items()}
