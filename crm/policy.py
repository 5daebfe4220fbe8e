"""Runtime policy files (policy/*.yml): YAML validated by a pydantic model, errors naming file and line.

Ops edit these files; a mistake must be refused at load with `policy/escalation.yml:12: ...`, never
half-applied. The ops console stores its edits as versions in the database (crm/services/content.py); a
process that serves customers calls `use_policy_edits()` at start, and from then on the latest version of an
edited file wins over the repository file, noticed within EDIT_CHECK_SECONDS by every process.

Line numbers come from PyYAML's node marks: the pydantic error location is walked down the
composed node tree as far as it goes, and the deepest node's line is reported.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from core.settings import PROJECT_ROOT

POLICY_DIR = PROJECT_ROOT / "policy"
# How long a process trusts its last look at the edited versions (one small query per file per period).
EDIT_CHECK_SECONDS = 2.0

ModelT = TypeVar("ModelT", bound=BaseModel)
LoaderT = TypeVar("LoaderT", bound=Callable[..., Any])
logger = logging.getLogger(__name__)

# relative path ("policy/escalation.yml") -> (version, text) of its latest ops edit, or None
EditReader = Callable[[str], "tuple[int, str] | None"]
_edit_reader: EditReader | None = None
_edit_checks: dict[str, tuple[float, tuple[int, str] | None]] = {}


def use_policy_edits(reader: EditReader | None) -> None:
    """Serve ops' edited versions of the policy files from now on (None: the repository files only)."""
    global _edit_reader
    _edit_reader = reader
    _edit_checks.clear()


def current_edit(name: str) -> tuple[int, str] | None:
    """The latest ops edit of policy/<name> as (version, text), looked up at most every EDIT_CHECK_SECONDS."""
    if _edit_reader is None:
        return None
    now = time.monotonic()
    checked = _edit_checks.get(name)
    if checked is not None and now - checked[0] < EDIT_CHECK_SECONDS:
        return checked[1]
    try:
        edit = _edit_reader(f"policy/{name}")
    except Exception:  # the database is down: keep what this process had
        logger.exception("could not look up edits of policy/%s; keeping the last known version", name)
        edit = checked[1] if checked is not None else None
    _edit_checks[name] = (now, edit)
    return edit


def cached_policy(name: str) -> Callable[[LoaderT], LoaderT]:
    """Caches a loader of policy/<name> per process like lru_cache, but a new ops edit is a new cache entry."""

    def decorate(loader: LoaderT) -> LoaderT:
        cache: dict[tuple[Any, ...], Any] = {}

        @functools.wraps(loader)
        def load(*args: Any, **kwargs: Any) -> Any:
            edit = current_edit(name) if not args and kwargs.get("directory") is None else None
            key = (args, tuple(sorted(kwargs.items())), edit)  # the text too: version numbers are per database
            if key not in cache:
                cache[key] = loader(*args, **kwargs)
            return cache[key]

        load.cache_clear = cache.clear  # type: ignore[attr-defined]
        return load  # type: ignore[return-value]

    return decorate


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
    """Read and validate policy/<name> (its latest ops edit when there is one), or `directory`/<name>."""
    edit = current_edit(name) if directory is None else None
    if edit is not None:
        version, text = edit
        return parse_policy(text, model, source=f"policy/{name} (ops version {version})")
    path = (directory or POLICY_DIR) / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise PolicyError(f"{path}: cannot read the policy file: {error.strerror}") from error
    return parse_policy(
        text, model, source=str(path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path)
    )
