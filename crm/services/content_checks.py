"""Checks run on every content save, over all documents as they would be after it.

Refusals point at the problem: YAML errors with their line, the same example under two intents, a
story or rule using an unknown action, intent or form, an FAQ key with examples but no answer in the
CRM, a wording variable that the response never had and that is not a slot. (`rasa data validate`
runs on top of these for the full-text editor: crm.services.content_rasa.)
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from crm.policy import POLICY_DIR
from crm.services import faq as faq_service
from crm.services.content import InvalidContentError, message, repository_text

DOMAIN_PATH = "domain.yml"
# The live policy files ops may edit (crm/services/content.py EDITABLE_PATTERNS), checked by their loaders.
LOADERS_FOR_EDITS = ("escalation.yml", "tiers.yml", "sentiment.yml", "canned_replies.yml")
NLU_PREFIX = "data/nlu/"
DIALOGUE_PREFIXES = ("data/stories/", "data/rules/", "tests/stories/")
FAQ_INTENT = "faq"
# Rasa's own actions and intents, usable in any story or rule without being declared.
BUILTIN_ACTIONS = frozenset(
    {
        "action_listen",
        "action_restart",
        "action_session_start",
        "action_default_fallback",
        "action_deactivate_loop",
        "action_revert_fallback_events",
        "action_default_ask_affirmation",
        "action_default_ask_rephrase",
        "action_two_stage_fallback",
        "action_unlikely_intent",
        "action_back",
        "action_extract_slots",
        "action_validate_slot_mappings",
        "...",
    }
)
BUILTIN_INTENTS = frozenset({"nlu_fallback", "restart", "back", "out_of_scope", "session_start"})
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\{[^}]*\}|\([^)]*\))")
_VARIABLE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def plain_example(example: str) -> str:
    """The example as the customer types it: entity annotations dropped, NFKC, case and spaces folded."""
    text = _ANNOTATION.sub(r"\1", example)
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def parse_examples(block: Any) -> list[str]:
    """The examples of an NLU `examples: |` block, one per `- ` line."""
    if not isinstance(block, str):
        return []
    return [line.strip()[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")]


def load_yaml(path: str, text: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=_LOADER) if text.strip() else {}
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        line = mark.line + 1 if mark is not None else "?"
        raise InvalidContentError("invalid_yaml", path=path, line=line, problem=error.problem or str(error)) from error
    except yaml.YAMLError as error:
        raise InvalidContentError("invalid_yaml", path=path, line="?", problem=str(error)) from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidContentError("invalid_structure", path=path, problem="the top level must be a mapping")
    return data


@dataclass
class DomainFacts:
    intents: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    forms: set[str] = field(default_factory=set)
    slots: set[str] = field(default_factory=set)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, data: dict[str, Any]) -> DomainFacts:
        def names(items: Any) -> set[str]:
            if isinstance(items, dict):
                return {str(name) for name in items}
            found: set[str] = set()
            for item in items or []:
                found.update(item.keys() if isinstance(item, dict) else [str(item)])
            return found

        responses = data.get("responses") or {}
        return cls(
            intents=names(data.get("intents")),
            actions=names(data.get("actions")),
            forms=names(data.get("forms")),
            slots=names(data.get("slots")),
            responses={str(name): list(variants or []) for name, variants in responses.items()},
        )

    def knows_intent(self, intent: str) -> bool:
        return intent.split("/", 1)[0] in self.intents or intent in BUILTIN_INTENTS

    def knows_action(self, action: str) -> bool:
        return (
            action in self.actions
            or action in self.responses
            or action in self.forms
            or action in BUILTIN_ACTIONS
            or action.startswith("utter_faq")  # the retrieval intent's responses
        )


def domain_facts(documents: dict[str, str]) -> DomainFacts:
    return DomainFacts.of(load_yaml(DOMAIN_PATH, documents.get(DOMAIN_PATH, "")))


@dataclass(frozen=True)
class IntentBlock:
    path: str
    intent: str
    examples: list[str]


def intent_blocks(documents: dict[str, str]) -> Iterator[IntentBlock]:
    for path, text in sorted(documents.items()):
        if not path.startswith(NLU_PREFIX):
            continue
        for item in load_yaml(path, text).get("nlu") or []:
            if isinstance(item, dict) and "intent" in item:
                yield IntentBlock(path, str(item["intent"]), parse_examples(item.get("examples")))


def response_variables(variants: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for variant in variants:
        if isinstance(variant, dict) and isinstance(variant.get("text"), str):
            found.update(_VARIABLE.findall(variant["text"]))
    return found


def check_nlu(session: Session, documents: dict[str, str], facts: DomainFacts) -> None:
    owner: dict[str, tuple[str, str]] = {}
    faq_keys: dict[str, str] = {}
    for block in intent_blocks(documents):
        if not facts.knows_intent(block.intent):
            raise InvalidContentError("unknown_intent", intent=block.intent)
        if block.intent.startswith(FAQ_INTENT + "/"):
            faq_keys.setdefault(block.intent.split("/", 1)[1], block.path)
        for example in block.examples:
            key = plain_example(example)
            previous = owner.setdefault(key, (block.intent, block.path))
            if previous[0] != block.intent:
                raise InvalidContentError("example_in_other_intent", text=example, other=previous[0], path=previous[1])
    answered = set(faq_service.list_keys(session))
    for key, path in sorted(faq_keys.items()):
        if key not in answered:
            raise InvalidContentError("faq_without_answer", key=key, path=path)


def _step_problems(kind: str, name: str, path: str, steps: Any, facts: DomainFacts) -> None:
    for step in steps or []:
        if not isinstance(step, dict):
            continue
        action = step.get("action")
        if action is not None and not facts.knows_action(str(action)):
            raise InvalidContentError("unknown_action", kind=kind, name=name, path=path, action=action)
        intents = [step["intent"]] if "intent" in step else []
        intents += [alt["intent"] for alt in step.get("or") or [] if isinstance(alt, dict) and "intent" in alt]
        for intent in intents:
            if not facts.knows_intent(str(intent)):
                raise InvalidContentError("unknown_step_intent", kind=kind, name=name, path=path, intent=intent)
        loop = step.get("active_loop")
        if loop is not None and str(loop) not in facts.forms:
            raise InvalidContentError("unknown_form", kind=kind, name=name, path=path, form=loop)


def check_dialogue(documents: dict[str, str], facts: DomainFacts) -> None:
    for path, text in sorted(documents.items()):
        if not path.startswith(DIALOGUE_PREFIXES):
            continue
        data = load_yaml(path, text)
        for section, kind in (("stories", message("section_stories")), ("rules", message("section_rules"))):
            items = data.get(section) or []
            if not isinstance(items, list):
                raise InvalidContentError("invalid_structure", path=path, problem=f"`{section}` must be a list")
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("steps", []), list):
                    raise InvalidContentError(
                        "invalid_structure", path=path, problem=f"each of `{section}` needs steps"
                    )
                name = str(item.get("story") or item.get("rule") or "?")
                _step_problems(kind, name, path, item.get("condition"), facts)
                _step_problems(kind, name, path, item.get("steps"), facts)


def check_wording(documents: dict[str, str], facts: DomainFacts) -> None:
    original = DomainFacts.of(load_yaml(DOMAIN_PATH, repository_text(DOMAIN_PATH)))
    for name, variants in facts.responses.items():
        known = response_variables(original.responses.get(name, [])) | facts.slots
        for variable in sorted(response_variables(variants) - known):
            raise InvalidContentError(
                "unknown_variable",
                response=name,
                variable=variable,
                known="、".join(sorted(known)) or message("no_variables"),
            )


def check_policy(documents: dict[str, str]) -> None:
    """The live policy files as they would be, loaded by their own loaders (file, line and problem otherwise)."""
    from crm.policy_check import check  # imports every policy loader

    policy = {path: text for path, text in documents.items() if path.startswith("policy/")}
    if not policy:
        return
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        for name in LOADERS_FOR_EDITS:
            source = policy.get(f"policy/{name}")
            text = source if source is not None else (POLICY_DIR / name).read_text(encoding="utf-8")
            (directory / name).write_text(text, encoding="utf-8")
        problems = check(directory, names=LOADERS_FOR_EDITS)
    if problems:
        raise InvalidContentError("invalid_policy", problems="；".join(problems).replace(folder, "policy"))


def check_all(session: Session, documents: dict[str, str]) -> None:
    """Raise InvalidContentError for the first problem in `documents` (path → full text)."""
    for path, text in documents.items():
        load_yaml(path, text)
    check_policy(documents)
    facts = domain_facts(documents)
    check_nlu(session, documents, facts)
    check_dialogue(documents, facts)
    check_wording(documents, facts)
