"""`python -m training.worker`: runs queued training jobs one at a time, then exits (or keeps polling).

Each job: export the training inputs with the ops-edited files laid over them, `rasa train` (progress
and log tail written to the job row, Rasa's whole output to var/log/training-job-<id>.log), evaluate on
the project's test sets, store the model under its fingerprint and record it in the model history.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from crm.db import get_sessionmaker
from training import store
from training.evaluate import CONFUSION_MATRIX, evaluate_model
from training.progress import PHASE_START, Progress
from training.project import export_project, model_path_for, split_overrides, training_fingerprint, write_files
from training.rasa_cli import TrainingFailedError, train
from training.settings import TrainingSettings, get_training_settings

logger = logging.getLogger("training.worker")

OverridesProvider = Callable[[Session], Mapping[str, str]]
IDLE_POLL_SECONDS = 2.0


def refresh_crm_vocabulary() -> None:
    """var/nlu/crm_entities.json from the CRM (stack/nlu_entities.py), read by the NLU's entity ruler."""
    from stack.nlu_entities import export

    export()


def no_overrides(session: Session) -> Mapping[str, str]:
    """The default: train the repository files as they are."""
    return {}


# What the ops console's editing service offers (crm/services/content.py): the ops-edited training files.
CONTENT_SERVICE = "crm.services.content:current_overrides"


def load_overrides_provider(spec: str) -> OverridesProvider:
    """`package.module:function` → that function; "none" or blank → no overrides; "auto" → the content
    service when it exists (the editing half of the ops console), else no overrides."""
    if spec in ("", "none"):
        return no_overrides
    if spec == "auto":
        try:
            return load_overrides_provider(CONTENT_SERVICE)
        except (ImportError, AttributeError):
            logger.info("No ops content service (%s): training the repository files", CONTENT_SERVICE)
            return no_overrides
    module_name, _, attribute = spec.partition(":")
    provider: OverridesProvider = getattr(importlib.import_module(module_name), attribute)
    return provider


class JobRunner:
    """Runs one claimed job and writes everything it learns to the job row."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: TrainingSettings,
        overrides: OverridesProvider = no_overrides,
    ) -> None:
        self.factory = factory
        self.settings = settings
        self.overrides = overrides

    def _report(self, job_id: int, progress: Progress, log_tail: str) -> None:
        with self.factory.begin() as session:
            store.report_progress(session, job_id, progress=progress.as_dict(), log_tail=log_tail)

    def _phase(self, job_id: int, phase: str, log_tail: str = "") -> None:
        self._report(job_id, Progress(phase=phase, percent=PHASE_START[phase]), log_tail)

    def run(self, job_id: int) -> None:
        settings = self.settings
        log_path = settings.log_dir / f"training-job-{job_id}.log"
        workdir = settings.work_dir / f"job-{job_id}"
        tail = ""
        with self.factory.begin() as session:
            store.set_log_path(session, job_id, str(log_path))
        try:
            self._phase(job_id, "exporting")
            refresh_crm_vocabulary()  # the CRM's stores and services as they are now (a change means a new model)
            with self.factory() as session:
                training_edits, evaluation_edits = split_overrides(dict(self.overrides(session)))
            project = export_project(settings.project_dir, workdir / "project", training_edits)
            for test_set in (settings.nlu_test_set, settings.story_tests):
                source = settings.project_dir / test_set
                if source.is_dir():
                    shutil.copytree(source, project / test_set, dirs_exist_ok=True)
                elif source.is_file():
                    (project / test_set).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(source, project / test_set)
            write_files(project, evaluation_edits)  # e.g. a test story saved from a conversation review
            fingerprint = training_fingerprint(project)
            final = model_path_for(fingerprint, settings.models_dir)
            progress = Progress()

            def on_progress(snapshot: Progress, log_tail: str) -> None:
                nonlocal tail, progress
                tail, progress = log_tail, snapshot
                self._report(job_id, snapshot, log_tail)

            if final.exists():
                tail = f"Model {final.name} for these inputs exists already: reused."
            else:
                self._phase(job_id, "validating")
                trained = train(
                    project,
                    workdir / "out",
                    final.name.removesuffix(".tar.gz"),
                    log_path=log_path,
                    cache_dir=settings.work_dir / "rasa-cache",
                    on_progress=on_progress,
                )
                settings.models_dir.mkdir(parents=True, exist_ok=True)
                shutil.move(str(trained), final.with_suffix(".partial"))
                os.replace(final.with_suffix(".partial"), final)
            self._phase(job_id, "evaluating", tail)
            evaluation = evaluate_model(
                final,
                project,
                workdir / "evaluation",
                nlu_test_set=settings.nlu_test_set,
                story_tests=settings.story_tests,
                log_path=log_path,
            )
            matrix = evaluation.get("confusion_matrix")
            if matrix:
                kept = settings.models_dir / "evaluations" / f"job-{job_id}-{CONFUSION_MATRIX}"
                kept.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(matrix, kept)
                evaluation["confusion_matrix"] = str(kept)
            with self.factory.begin() as session:
                model = store.record_model(
                    session, fingerprint=fingerprint, path=str(final), job_id=job_id, evaluation=evaluation
                )
                store.finish_job(session, job_id, model_id=model.id, log_tail=tail)
            logger.info("Job %s: model %s (%s)", job_id, model.id, final.name)
        except TrainingFailedError as error:
            self._fail(job_id, str(error), tail, log_path)
        except Exception as error:  # anything else still ends the job, with the reason on the row
            logger.exception("Job %s failed", job_id)
            self._fail(job_id, f"{error.__class__.__name__}: {error}", tail, log_path)
        finally:
            shutil.rmtree(workdir / "out", ignore_errors=True)

    def _fail(self, job_id: int, reason: str, tail: str, log_path: Path) -> None:
        with self.factory.begin() as session:
            store.fail_job(session, job_id, error=reason, log_tail=tail, log_path=str(log_path))
        logger.warning("Job %s failed: %s", job_id, reason)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def drain(runner: JobRunner, *, forever: bool = False) -> int:
    """Claims and runs jobs until none is queued (or, with `forever`, until stopped); returns how many ran."""
    ran = 0
    stale = timedelta(minutes=runner.settings.stale_job_minutes)
    while True:
        with runner.factory.begin() as session:
            job_id = store.claim_next_job(session, worker=worker_name(), stale_after=stale)
        if job_id is not None:
            runner.run(job_id)
            ran += 1
            continue
        if not forever:
            return ran
        time.sleep(IDLE_POLL_SECONDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--forever", action="store_true", help="keep polling for queued jobs")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_training_settings()
    runner = JobRunner(get_sessionmaker(), settings, load_overrides_provider(settings.overrides_provider))
    drain(runner, forever=args.forever)


if __name__ == "__main__":
    main()
