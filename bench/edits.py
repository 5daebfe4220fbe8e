"""Training time and edit-to-live times: a FAQ answer edit in the CRM, an NLU example edit plus retraining."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.settings import PROJECT_ROOT
from crm.models import FaqEntry
from stack.model import MODEL_INPUTS, rasa_env
from stack.paths import RASA_BIN

POLL_TIMEOUT_SECONDS = 60.0
NLU_EDIT_FILE = "bench_nlu_edit.yml"


def ask(api_url: str, text: str, user_id: str | None = None) -> str:
    """One message through the widget API as a new (or given) anonymous customer; the joined reply texts."""
    user = user_id or f"bench-probe-{uuid.uuid4().hex[:12]}"
    response = httpx.post(
        f"{api_url}/api/widget/messages", json={"user_id": user, "text": text}, timeout=30.0, trust_env=False
    )
    response.raise_for_status()
    return "\n".join(reply["text"] for reply in response.json()["replies"])


def poll_until(api_url: str, text: str, expected: str, timeout: float = POLL_TIMEOUT_SECONDS) -> tuple[bool, int]:
    """Asks `text` (a new customer each time) until a reply contains `expected`; returns (served, polls)."""
    deadline = time.perf_counter() + timeout
    polls = 0
    while time.perf_counter() < deadline:
        polls += 1
        if expected in ask(api_url, text):
            return True, polls
    return False, polls


def general_answer(session_factory: sessionmaker[Session], key: str) -> FaqEntry:
    with session_factory() as session:
        entry = session.scalars(
            select(FaqEntry)
            .where(FaqEntry.key == key, FaqEntry.store_id.is_(None), FaqEntry.business_code.is_(None))
            .order_by(FaqEntry.id)
        ).first()
    if entry is None:
        raise LookupError(f"no general FAQ answer for key {key!r}")
    return entry


def faq_edit_to_live(api_url: str, session_factory: sessionmaker[Session], key: str, question: str) -> dict[str, Any]:
    """UPDATE the general answer of `key` in the running CRM, then ask until the new text is served."""
    entry = general_answer(session_factory, key)
    answered_before = entry.answer_zh in ask(api_url, question)
    new_answer = f"{entry.answer_zh} [bench {uuid.uuid4().hex[:8]}]"
    with session_factory.begin() as session:
        session.execute(update(FaqEntry).where(FaqEntry.id == entry.id).values(answer_zh=new_answer))
    started = time.perf_counter()  # after the commit: the edit is in the database
    served, polls = poll_until(api_url, question, new_answer)
    return {
        "key": key,
        "question": question,
        "answered_before_edit": answered_before,
        "served": served,
        "seconds": time.perf_counter() - started if served else None,
        "polls": polls,
    }


def copy_project_inputs(destination: Path) -> Path:
    """A temp copy of what `rasa train` reads (config, domain, data, bot), so edits never touch the repo."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in MODEL_INPUTS:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():  # var/nlu/crm_entities.json exists once stack.nlu_entities exported it
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def train(project: Path, out_dir: Path, name: str, cache_dir: Path, *, force: bool = False) -> float:
    """`rasa train` (core + NLU) of `project` with its own Rasa cache dir; returns wall seconds."""
    env = {**rasa_env(), "RASA_CACHE_DIRECTORY": str(cache_dir)}
    argv = [str(RASA_BIN / "rasa"), "train", "--out", str(out_dir), "--fixed-model-name", name, "--quiet"]
    started = time.perf_counter()
    with (out_dir.parent / f"train-{name}.log").open("wb") as log:
        subprocess.run(
            argv + (["--force"] if force else []),
            cwd=project,
            env=env,
            check=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return time.perf_counter() - started


def full_training(workdir: Path) -> tuple[dict[str, Any], Path, Path]:
    """A forced, cold-cache training of config.yml on a copy of the project: timing, the copy, the model."""
    project = copy_project_inputs(workdir / "project")
    (workdir / "models").mkdir(parents=True, exist_ok=True)
    seconds = train(project, workdir / "models", "full", workdir / "rasa-cache", force=True)
    timing = {"seconds": seconds, "cache": "cold (empty RASA_CACHE_DIRECTORY)", "forced": True}
    return timing, project, workdir / "models" / "full.tar.gz"


def write_nlu_edit(project: Path, key: str, example: str) -> Path:
    path = project / "data" / "nlu" / NLU_EDIT_FILE
    path.write_text(
        f'version: "3.1"\nnlu:\n  - intent: faq/{key}\n    examples: |\n      - {example}\n', encoding="utf-8"
    )
    return path


def nlu_edit_to_live(
    api_url: str,
    rasa_url: str,
    session_factory: sessionmaker[Session],
    project: Path,
    workdir: Path,
    key: str,
    example: str,
    rasa_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Add a paraphrase, retrain (warm Rasa cache from the full training), PUT /model, ask until served."""
    answer = general_answer(session_factory, key).answer_zh
    answered_before = answer in ask(api_url, example)
    started = time.perf_counter()
    write_nlu_edit(project, key, example)
    train_seconds = train(project, workdir / "models", "edited", workdir / "rasa-cache")
    model = workdir / "models" / "edited.tar.gz"
    load_started = time.perf_counter()
    response = httpx.put(
        f"{rasa_url}/model", json={"model_file": str(model)}, headers=rasa_headers, timeout=300.0, trust_env=False
    )
    response.raise_for_status()
    load_seconds = time.perf_counter() - load_started
    served, polls = poll_until(api_url, example, answer)
    return {
        "key": key,
        "example": example,
        "answered_before_edit": answered_before,
        "served": served,
        "seconds": time.perf_counter() - started if served else None,
        "train_seconds": train_seconds,
        "load_seconds": load_seconds,
        "polls": polls,
        "how": "rasa train on the edited copy with the Rasa cache of the full training, then PUT /model "
        "on the running stack's Rasa server, then ask through the API until the FAQ answer is served",
        "model_bytes": os.path.getsize(model),
    }
