"""The wording catalog: every response text in domain.yml with its variables, edited as domain versions.

A variable is known when the repository's response already used it (the action that utters it passes
it) or when it is a slot (Rasa fills slots into responses); any other `{name}` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from sqlalchemy.orm import Session

from crm.services import content
from crm.services.content import ContentNotFoundError, InvalidContentError, VersionOut, message
from crm.services.content_checks import (
    DOMAIN_PATH,
    DomainFacts,
    domain_facts,
    load_yaml,
    response_variables,
)
from crm.services.content_nlu import rewrite


@dataclass(frozen=True)
class WordingOut:
    name: str
    texts: list[str]
    variables: list[str]  # the variables these texts may use
    used: list[str]  # the variables they use now


def _known(name: str, facts: DomainFacts) -> set[str]:
    original = DomainFacts.of(load_yaml(DOMAIN_PATH, content.repository_text(DOMAIN_PATH)))
    return response_variables(original.responses.get(name, [])) | facts.slots


def list_wording(session: Session) -> list[WordingOut]:
    facts = domain_facts({DOMAIN_PATH: content.read(session, DOMAIN_PATH).text})
    original = DomainFacts.of(load_yaml(DOMAIN_PATH, content.repository_text(DOMAIN_PATH)))
    catalog: list[WordingOut] = []
    for name, variants in facts.responses.items():
        texts = [str(variant.get("text", "")) for variant in variants if isinstance(variant, dict)]
        known = response_variables(original.responses.get(name, []))
        catalog.append(WordingOut(name, texts, sorted(known), sorted(response_variables(variants))))
    return catalog


def _variant_text(domain_text: str, name: str, index: int) -> str | None:
    variants = domain_facts({DOMAIN_PATH: domain_text}).responses.get(name, [])
    if not 0 <= index < len(variants) or not isinstance(variants[index], dict):
        return None
    return str(variants[index].get("text"))


def set_wording(
    session: Session, name: str, index: int, text: str, *, author: str, base_version: int | None = None
) -> VersionOut:
    """Replace the text of variant `index` of response `name`."""
    text = text.strip()
    if not text:
        raise InvalidContentError("empty_wording")
    facts = domain_facts({DOMAIN_PATH: content.read(session, DOMAIN_PATH).text})
    if name not in facts.responses:
        raise ContentNotFoundError("unknown_response", response=name)
    if not 0 <= index < len(facts.responses[name]):
        raise ContentNotFoundError("response_variant_missing", response=name, index=index + 1)
    known = _known(name, facts)
    for variable in sorted(response_variables([{"text": text}]) - known):
        raise InvalidContentError(
            "unknown_variable",
            response=name,
            variable=variable,
            known="、".join(sorted(known)) or message("no_variables"),
        )

    if base_version is not None:
        current = content.read(session, DOMAIN_PATH)
        if base_version != current.version:
            # domain.yml changed since the editor loaded it; a conflict only if this very text changed.
            try:
                before = _variant_text(content.version_text(session, DOMAIN_PATH, base_version), name, index)
            except ContentNotFoundError:
                before = None
            if before != _variant_text(current.text, name, index):
                content.raise_stale(session, current, base_version)
            base_version = None

    def change(data: Any) -> None:
        data["responses"][name][index]["text"] = DoubleQuotedScalarString(text)

    return content.edit(
        session,
        DOMAIN_PATH,
        lambda current: rewrite(current, change),
        author=author,
        summary=f"wording {name}[{index}]",
        base_version=base_version,
    )
