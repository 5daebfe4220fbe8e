"""The training job queue and the model history in the CRM database (every API and worker process sees them).

A job is claimed by exactly one worker: on PostgreSQL under a transaction-scoped advisory lock with
FOR UPDATE SKIP LOCKED, on SQLite by a conditional UPDATE inside the engine's BEGIN IMMEDIATE transaction.
Only one job runs at a time; the others wait as `queued`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import exists, func, select, text, update
from sqlalchemy.orm import Session

from crm.models import ModelDeployment, TrainedModel, TrainingJob
from crm.types import utcnow

# Any constant: the advisory lock that serialises claims on PostgreSQL.
CLAIM_LOCK_KEY = 7_130_501


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    phase: str
    percent: float
    progress: dict[str, Any]
    log_tail: str
    error: str | None
    model_id: int | None


class ModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    fingerprint: str
    path: str
    created_at: datetime
    job_id: int | None
    evaluation: dict[str, Any] | None
    live: bool


class DeploymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    model_id: int
    previous_model_id: int | None
    kind: str
    deployed_by: str
    deployed_at: datetime
    override_reason: str | None
    gate_reasons: list[dict[str, Any]]


# -- jobs ------------------------------------------------------------------------------------------------


def create_job(session: Session, *, requested_by: str) -> JobOut:
    job = TrainingJob(requested_by=requested_by, status="queued", phase="queued", percent=0.0, progress={}, log_tail="")
    session.add(job)
    session.flush()
    return JobOut.model_validate(job)


def get_job(session: Session, job_id: int) -> JobOut | None:
    job = session.get(TrainingJob, job_id)
    return JobOut.model_validate(job) if job is not None else None


def list_jobs(session: Session, *, limit: int = 50) -> list[JobOut]:
    jobs = session.scalars(select(TrainingJob).order_by(TrainingJob.id.desc()).limit(limit))
    return [JobOut.model_validate(job) for job in jobs]


def fail_stale_jobs(session: Session, *, stale_after: timedelta, now: datetime | None = None) -> int:
    """Running jobs whose worker stopped writing long ago are failed, so the queue moves on."""
    cutoff = (now or utcnow()) - stale_after
    result = session.execute(
        update(TrainingJob)
        .where(TrainingJob.status == "running", TrainingJob.heartbeat_at < cutoff)
        .values(status="failed", finished_at=now or utcnow(), error="the training worker stopped (no heartbeat)")
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def claim_next_job(session: Session, *, worker: str, stale_after: timedelta) -> int | None:
    """Marks the oldest queued job running for `worker` and returns its id; None while another job runs."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK_KEY})
    fail_stale_jobs(session, stale_after=stale_after)
    if session.scalar(select(exists().where(TrainingJob.status == "running"))):
        return None
    oldest = select(TrainingJob.id).where(TrainingJob.status == "queued").order_by(TrainingJob.id).limit(1)
    if dialect == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    job_id = session.scalar(oldest)
    if job_id is None:
        return None
    now = utcnow()
    claimed = session.execute(
        update(TrainingJob)
        .where(TrainingJob.id == job_id, TrainingJob.status == "queued")
        .values(status="running", worker=worker, started_at=now, heartbeat_at=now, phase="exporting", percent=2.0)
    )
    return job_id if claimed.rowcount == 1 else None  # type: ignore[attr-defined]


def report_progress(session: Session, job_id: int, *, progress: dict[str, Any], log_tail: str) -> None:
    session.execute(
        update(TrainingJob)
        .where(TrainingJob.id == job_id, TrainingJob.status == "running")
        .values(
            phase=str(progress.get("phase", "training")),
            percent=float(progress.get("percent", 0.0)),
            progress=progress,
            log_tail=log_tail,
            heartbeat_at=utcnow(),
        )
    )


def finish_job(session: Session, job_id: int, *, model_id: int, log_tail: str) -> None:
    session.execute(
        update(TrainingJob)
        .where(TrainingJob.id == job_id)
        .values(
            status="succeeded",
            model_id=model_id,
            finished_at=utcnow(),
            phase="done",
            percent=100.0,
            progress={"phase": "done", "percent": 100.0},
            log_tail=log_tail,
        )
    )


def fail_job(session: Session, job_id: int, *, error: str, log_tail: str, log_path: str | None = None) -> None:
    session.execute(
        update(TrainingJob)
        .where(TrainingJob.id == job_id)
        .values(status="failed", finished_at=utcnow(), error=error, log_tail=log_tail, log_path=log_path)
    )


def set_log_path(session: Session, job_id: int, log_path: str) -> None:
    session.execute(update(TrainingJob).where(TrainingJob.id == job_id).values(log_path=log_path))


def queue_is_stuck(session: Session, *, older_than: timedelta) -> bool:
    """True when a job has waited longer than `older_than` while no job runs (no worker is working the queue)."""
    if session.scalar(select(exists().where(TrainingJob.status == "running"))):
        return False
    cutoff = utcnow() - older_than
    return bool(session.scalar(select(exists().where(TrainingJob.status == "queued", TrainingJob.created_at < cutoff))))


def queued_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(TrainingJob.status == "queued")) or 0)


# -- models ----------------------------------------------------------------------------------------------


def record_model(
    session: Session, *, fingerprint: str, path: str, job_id: int | None, evaluation: dict[str, Any] | None
) -> ModelOut:
    model = TrainedModel(fingerprint=fingerprint, path=path, job_id=job_id, evaluation=evaluation, live=False)
    session.add(model)
    session.flush()
    return ModelOut.model_validate(model)


def get_model(session: Session, model_id: int) -> ModelOut | None:
    model = session.get(TrainedModel, model_id)
    return ModelOut.model_validate(model) if model is not None else None


def list_models(session: Session, *, limit: int = 100) -> list[ModelOut]:
    models = session.scalars(select(TrainedModel).order_by(TrainedModel.id.desc()).limit(limit))
    return [ModelOut.model_validate(model) for model in models]


def live_model(session: Session) -> ModelOut | None:
    model = session.scalars(select(TrainedModel).where(TrainedModel.live.is_(True)).order_by(TrainedModel.id)).first()
    return ModelOut.model_validate(model) if model is not None else None


def was_live(session: Session, model_id: int) -> bool:
    """True when `model_id` has been deployed before (a rollback to it needs no gate)."""
    return bool(session.scalar(select(exists().where(ModelDeployment.model_id == model_id))))


def previous_live_model_id(session: Session) -> int | None:
    """The model that was live before the current one (what "rollback" goes back to)."""
    current = live_model(session)
    if current is None:
        return None
    last = session.scalars(
        select(ModelDeployment).where(ModelDeployment.model_id == current.id).order_by(ModelDeployment.id.desc())
    ).first()
    return last.previous_model_id if last is not None else None


def mark_live(
    session: Session,
    model_id: int,
    *,
    kind: str,
    deployed_by: str,
    override_reason: str | None = None,
    gate_reasons: list[dict[str, Any]] | None = None,
) -> DeploymentOut:
    """Makes `model_id` the one live model and records who deployed it and why."""
    previous = live_model(session)
    session.execute(update(TrainedModel).where(TrainedModel.live.is_(True)).values(live=False))
    session.execute(update(TrainedModel).where(TrainedModel.id == model_id).values(live=True))
    deployment = ModelDeployment(
        model_id=model_id,
        previous_model_id=previous.id if previous is not None and previous.id != model_id else None,
        kind=kind,
        deployed_by=deployed_by,
        override_reason=override_reason,
        gate_reasons=gate_reasons or [],
    )
    session.add(deployment)
    session.flush()
    return DeploymentOut.model_validate(deployment)


def list_deployments(session: Session, *, limit: int = 50) -> list[DeploymentOut]:
    rows = session.scalars(select(ModelDeployment).order_by(ModelDeployment.id.desc()).limit(limit))
    return [DeploymentOut.model_validate(row) for row in rows]


def model_to_serve(session: Session, *, fingerprint: str, path: str) -> ModelOut:
    """The model `make run` starts Rasa with, recorded as live.

    A model file the history has never seen is a developer's change to the repository: it is served.
    Otherwise the model ops deployed last stays live across restarts (if its file still exists).
    """
    known = session.scalars(select(TrainedModel).where(TrainedModel.path == path)).first()
    live = live_model(session)
    if known is not None and live is not None and Path(live.path).exists():
        return live
    return register_started_model(session, fingerprint=fingerprint, path=path)


def register_started_model(session: Session, *, fingerprint: str, path: str) -> ModelOut:
    """`path` becomes the live model in the history (once per model file)."""
    model = session.scalars(select(TrainedModel).where(TrainedModel.path == path).order_by(TrainedModel.id)).first()
    if model is None:
        model = TrainedModel(fingerprint=fingerprint, path=path, job_id=None, evaluation=None, live=False)
        session.add(model)
        session.flush()
    if not model.live:
        mark_live(session, model.id, kind="startup", deployed_by="stack")
    session.refresh(model)
    return ModelOut.model_validate(model)
