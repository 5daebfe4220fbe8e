"""Runtime policy files (policy/*.yml): YAML validated by a pydantic model, errors naming file and line.

Ops edit these files; a mistake must be refused at load with `policy/escalation.yml:12: ...`, never
half-applied. Line numbers come from PyYAML's node marks: the pydantic error location is walked down the
composed node tree as far as it goes, and the deepest node's line is reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from core.settings import PROJECT_ROOT

POLICY_DIR = PROJECT_ROOT / "policy"

ModelT = TypeVar("ModelT", bound=BaseModel)


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file, the line and the problem."""


def _line_at(root: yaml.Node, location: tuple[int | str, ...]) -> int:
    """1-based line of the deepest node on `location`; a mapping entry is reported at its key."""
    node, mark = root, root.start_mark
    for part in location:
        if isinstance(node, yaml.MappingNode):
            entry = next(((key, value) for key, value in node.value if getattr(key, "value", None) == str(part)), None)
            if entry is None:
                break
            node, mark = entry[1], entry[0].start_mark
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    return mark.line + 1


def _describe(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "(top level)"


def parse_policy(text: str, model: type[ModelT], *, source: str) -> ModelT:
    """Validate policy YAML `text` against `model`; PolicyError('<source>:<line>: <problem>') otherwise."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise PolicyError(f"{source}:{line}: invalid YAML: {error.problem or error}") from error
    if root is None:
        raise PolicyError(f"{source}:1: the file is empty")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            location = tuple(detail["loc"])
            line = _line_at(root, location)
            problems.append(f"{source}:{line}: {_describe(location)}: {detail['msg']}")
        raise PolicyError("\n".join(problems)) from error


def load_policy(name: str, model: type[ModelT], *, directory: Path | None = None) -> ModelT:
    """Read and validate policy/<name> (or `directory`/<name>)."""
    path = (directory or POLICY_DIR) / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"{path}: cannot read the policy file: {error.strerror}") from error
    return parse_policy(
        text, model, source=str(path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path)
    )
