"""What `rasa train` reads, its fingerprint, and an export of it with ops-edited files laid over it."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

# Everything `rasa train` reads, plus bot/ (custom components and stores load from there) and the CRM
# store/service vocabulary exported for the NLU (stack/nlu_entities.py, refreshed before every training).
MODEL_INPUTS = ("config.yml", "domain.yml", "data", "bot", "var/nlu/crm_entities.json")


class OverrideError(ValueError):
    """An ops-edited file whose path is not one of the training inputs."""


def _files(root: Path) -> list[Path]:
    files: list[Path] = []
    for name in MODEL_INPUTS:
        path = root / name
        if path.is_dir():
            files.extend(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        elif path.is_file():
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def training_fingerprint(root: Path) -> str:
    """A hash of every training input's path and content: equal inputs, equal model."""
    digest = hashlib.sha256()
    for file in _files(root):
        digest.update(file.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(file.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def model_path_for(fingerprint: str, models_dir: Path) -> Path:
    return models_dir / f"model-{fingerprint}.tar.gz"


def check_override_path(relative: str) -> PurePosixPath:
    """The override's path if it names a file inside the training inputs; OverrideError otherwise."""
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts or path.parts[0] not in MODEL_INPUTS:
        raise OverrideError(f"{relative!r} is not a file under {', '.join(MODEL_INPUTS)}")
    return path


EVALUATION_INPUTS = ("tests",)


def split_overrides(overrides: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Ops edits as (training inputs, evaluation inputs such as a test story saved from a conversation review);
    anything else is refused (OverrideError) before anything is written."""
    training: dict[str, str] = {}
    evaluation: dict[str, str] = {}
    for relative, text in overrides.items():
        path = PurePosixPath(relative)
        if path.parts and path.parts[0] in EVALUATION_INPUTS and not path.is_absolute() and ".." not in path.parts:
            evaluation[relative] = text
        else:
            check_override_path(relative)
            training[relative] = text
    return training, evaluation


def write_files(root: Path, files: Mapping[str, str]) -> None:
    for relative, text in files.items():
        target = root.joinpath(*PurePosixPath(relative).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def export_project(source: Path, destination: Path, overrides: Mapping[str, str] | None = None) -> Path:
    """Copies the training inputs of `source` into `destination`, then writes each override over it.

    `overrides` maps a relative path (e.g. "data/nlu/faq.yml") to the file's full text; a path that
    is not one of the training inputs is refused before anything is written.
    """
    checked = {check_override_path(relative): text for relative, text in (overrides or {}).items()}
    if destination.exists():
        shutil.rmtree(destination)
    destination.mkdir(parents=True)
    for name in MODEL_INPUTS:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination / name)
    for relative, text in checked.items():
        target = destination.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return destination
