"""The ops console's training API: start a training job, watch it, list models, deploy behind the gate, roll back.

Training runs in a worker process (`python -m training.worker`, started here on demand); the API only
writes the job row and reads what the worker writes. A deployment loads the model on every Rasa process
(`PUT /model`) before the model history says it is live.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from api.auth import SessionFactoryDep, Staff, require_roles
from api.deps import SettingsDep
from core.settings import Settings
from training import store
from training.deploy import DeployError, deploy_everywhere
from training.deployment import (
    DeployPlan,
    GateBlockedError,
    ModelFileMissingError,
    ModelNotFoundError,
    OverrideForbiddenError,
    plan_deploy,
)
from training.launcher import launch_worker
from training.settings import TrainingSettings, get_training_settings

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/ops", tags=["ops console: training"])
page_router = APIRouter(include_in_schema=False)
STATIC_DIR = FilePath(__file__).resolve().parent.parent / "static" / "ops"

OpsStaff = Annotated[Staff, Depends(require_roles("ops", "supervisor"))]
Launcher = Callable[[Settings, TrainingSettings], Any]
# A job queued this long with nothing running means no worker is alive to run it.
STUCK_QUEUE_AFTER = timedelta(seconds=20)


def training_settings(request: Request) -> TrainingSettings:
    """app.state.training_settings when a test set it, else TRAINING_* from the environment."""
    return getattr(request.app.state, "training_settings", None) or get_training_settings()


def worker_launcher(request: Request) -> Launcher:
    return getattr(request.app.state, "training_launcher", None) or launch_worker


TrainingSettingsDep = Annotated[TrainingSettings, Depends(training_settings)]
LauncherDep = Annotated[Launcher, Depends(worker_launcher)]


class JobCreatedOut(BaseModel):
    id: int
    status: str
    queued_ahead: int


class JobView(BaseModel):
    id: int
    status: str
    progress: dict[str, Any]
    log_tail: str
    model_id: int | None
    evaluation: dict[str, Any] | None
    # The live model's evaluation, to read side by side with the new one.
    live_model_id: int | None
    live_evaluation: dict[str, Any] | None
    error: str | None
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobsOut(BaseModel):
    items: list[JobView]


class ModelView(BaseModel):
    id: int
    created_at: datetime
    live: bool
    evaluation: dict[str, Any] | None
    fingerprint: str
    job_id: int | None
    deployed_before: bool


class ModelsOut(BaseModel):
    items: list[ModelView]
    live_id: int | None


class DeployIn(BaseModel):
    override_reason: str | None = Field(default=None, max_length=1000)


class DeploymentView(BaseModel):
    id: int
    model_id: int
    previous_model_id: int | None
    kind: str
    deployed_by: str
    deployed_at: datetime
    override_reason: str | None
    gate_reasons: list[dict[str, Any]]


class DeployOut(BaseModel):
    model_id: int
    kind: str
    rasa_processes: list[str]
    deployment: DeploymentView


class DeploymentsOut(BaseModel):
    items: list[DeploymentView]


def _error(status: int, code: str, message: str, **extra: Any) -> HTTPException:
    return HTTPException(status_code=status, detail={"code": code, "message": message, **extra})


def _public_evaluation(evaluation: dict[str, Any] | None, model_id: int | None) -> dict[str, Any] | None:
    """The evaluation without server paths: the confusion matrix becomes its API URL."""
    if evaluation is None:
        return None
    public = dict(evaluation)
    if public.get("confusion_matrix") and model_id is not None:
        public["confusion_matrix"] = f"/api/ops/models/{model_id}/confusion-matrix.png"
    return public


def _job_view(session: Session, job: store.JobOut) -> JobView:
    model = store.get_model(session, job.model_id) if job.model_id is not None else None
    live = store.live_model(session)
    progress = {**job.progress, "phase": job.phase, "percent": round(job.percent, 1)}
    return JobView(
        id=job.id,
        status=job.status,
        progress=progress,
        log_tail=job.log_tail,
        model_id=job.model_id,
        evaluation=_public_evaluation(model.evaluation if model else None, job.model_id),
        live_model_id=live.id if live else None,
        live_evaluation=_public_evaluation(live.evaluation, live.id) if live else None,
        error=job.error,
        requested_by=job.requested_by,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def _model_view(session: Session, model: store.ModelOut) -> ModelView:
    return ModelView(
        id=model.id,
        created_at=model.created_at,
        live=model.live,
        evaluation=_public_evaluation(model.evaluation, model.id),
        fingerprint=model.fingerprint,
        job_id=model.job_id,
        deployed_before=store.was_live(session, model.id),
    )


@router.post("/training-jobs", response_model=JobCreatedOut, status_code=202)
async def start_training(
    staff: OpsStaff,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    training: TrainingSettingsDep,
    launcher: LauncherDep,
) -> JobCreatedOut:
    """Queue a training of the current data (repository files plus ops edits); a worker process runs it."""

    def create() -> tuple[store.JobOut, int]:
        with factory.begin() as session:
            ahead = store.queued_count(session) + (
                1 if any(j.status == "running" for j in store.list_jobs(session, limit=5)) else 0
            )
            return store.create_job(session, requested_by=staff.username), ahead

    job, ahead = await asyncio.to_thread(create)
    await asyncio.to_thread(launcher, settings, training)
    return JobCreatedOut(id=job.id, status=job.status, queued_ahead=ahead)


@router.get("/training-jobs", response_model=JobsOut)
async def list_training_jobs(staff: OpsStaff, factory: SessionFactoryDep) -> JobsOut:
    """The latest training jobs, newest first."""

    def read() -> JobsOut:
        with factory() as session:
            return JobsOut(items=[_job_view(session, job) for job in store.list_jobs(session)])

    return await asyncio.to_thread(read)


@router.get("/training-jobs/{job_id}", response_model=JobView)
async def get_training_job(
    staff: OpsStaff,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    training: TrainingSettingsDep,
    launcher: LauncherDep,
    job_id: Annotated[int, Path(ge=1)],
) -> JobView:
    """One job: status, progress (phase, percent, epoch of the component training now), log tail, model, evaluation."""

    def read() -> tuple[JobView | None, bool]:
        with factory() as session:
            job = store.get_job(session, job_id)
            if job is None:
                return None, False
            return _job_view(session, job), store.queue_is_stuck(session, older_than=STUCK_QUEUE_AFTER)

    view, stuck = await asyncio.to_thread(read)
    if view is None:
        raise _error(404, "not_found", f"training job {job_id} does not exist")
    if stuck:  # e.g. the process that queued it stopped before its worker started: start one now
        await asyncio.to_thread(launcher, settings, training)
    return view


@router.get("/models", response_model=ModelsOut)
async def list_models(staff: OpsStaff, factory: SessionFactoryDep) -> ModelsOut:
    """Every model in the history, newest first, with its evaluation and which one is live."""

    def read() -> ModelsOut:
        with factory() as session:
            models = store.list_models(session)
            live = next((model.id for model in models if model.live), None)
            return ModelsOut(items=[_model_view(session, model) for model in models], live_id=live)

    return await asyncio.to_thread(read)


@router.get("/models/{model_id}/confusion-matrix.png")
async def confusion_matrix(
    staff: OpsStaff, factory: SessionFactoryDep, model_id: Annotated[int, Path(ge=1)]
) -> FileResponse:
    """The intent confusion matrix Rasa drew when the model was evaluated."""

    def read() -> str | None:
        with factory() as session:
            model = store.get_model(session, model_id)
        matrix = (model.evaluation or {}).get("confusion_matrix") if model else None
        return str(matrix) if matrix and FilePath(str(matrix)).exists() else None

    path = await asyncio.to_thread(read)
    if path is None:
        raise _error(404, "not_found", f"model {model_id} has no confusion matrix")
    return FileResponse(path, media_type="image/png")


@router.get("/deployments", response_model=DeploymentsOut)
async def list_deployments(staff: OpsStaff, factory: SessionFactoryDep) -> DeploymentsOut:
    """Who deployed which model when (and every gate override with its reason)."""

    def read() -> DeploymentsOut:
        with factory() as session:
            rows = store.list_deployments(session)
        return DeploymentsOut(items=[DeploymentView.model_validate(row.model_dump()) for row in rows])

    return await asyncio.to_thread(read)


def _deploy_lock(request: Request) -> asyncio.Lock:
    """One deployment at a time per API process (a double click must not interleave two sets of PUT /model)."""
    lock: asyncio.Lock | None = getattr(request.app.state, "deploy_lock", None)
    if lock is None:
        lock = request.app.state.deploy_lock = asyncio.Lock()
    return lock


async def _deploy(
    request: Request,
    staff: Staff,
    factory: sessionmaker[Session],
    settings: Settings,
    training: TrainingSettings,
    model_id: int,
    override_reason: str | None,
    *,
    rollback: bool = False,
) -> DeployOut:
    async with _deploy_lock(request):
        return await _deploy_now(
            request, staff, factory, settings, training, model_id, override_reason, rollback=rollback
        )


async def _deploy_now(
    request: Request,
    staff: Staff,
    factory: sessionmaker[Session],
    settings: Settings,
    training: TrainingSettings,
    model_id: int,
    override_reason: str | None,
    *,
    rollback: bool = False,
) -> DeployOut:
    def plan() -> tuple[DeployPlan, store.ModelOut | None]:
        with factory() as session:
            return (
                plan_deploy(session, model_id, role=staff.role, override_reason=override_reason, settings=training),
                store.live_model(session),
            )

    try:
        deploy_plan, previous = await asyncio.to_thread(plan)
    except ModelNotFoundError as error:
        raise _error(404, "not_found", str(error)) from error
    except ModelFileMissingError as error:
        raise _error(409, "model_file_missing", str(error)) from error
    except GateBlockedError as error:
        hint = (
            "a supervisor may deploy it anyway with override_reason"
            if error.may_override
            else "only a supervisor may override the gate (with override_reason)"
        )
        raise _error(
            409,
            "gate_failed",
            f"the regression gate blocks model {model_id}: {error}; {hint}",
            reasons=error.reasons,
            may_override=error.may_override,
        ) from error
    except OverrideForbiddenError as error:
        raise _error(
            403,
            "override_forbidden",
            f"only a supervisor may override the regression gate (role {staff.role}); the gate says: "
            + "; ".join(str(reason.get("message")) for reason in error.reasons),
            reasons=error.reasons,
        ) from error

    urls = settings.rasa_urls
    headers = request.app.state.rasa_token.headers()
    http = request.app.state.http
    try:
        swapped = await deploy_everywhere(http, urls, deploy_plan.model.path, headers, training.deploy_timeout_seconds)
    except DeployError as error:
        if previous is not None and previous.id != model_id:
            try:  # put the live model back where the new one may already have been loaded
                await deploy_everywhere(http, urls, previous.path, headers, training.deploy_timeout_seconds)
            except DeployError:
                logger.exception("Could not put model %s back after a failed deployment", previous.id)
        raise _error(502, "deploy_failed", f"Rasa did not load model {model_id}: {error}") from error

    def record() -> store.DeploymentOut:
        with factory.begin() as session:
            return store.mark_live(
                session,
                model_id,
                kind="rollback" if rollback or deploy_plan.kind == "rollback" else "deploy",
                deployed_by=staff.username,
                override_reason=deploy_plan.override_reason,
                gate_reasons=deploy_plan.gate_reasons,
            )

    deployment = await asyncio.to_thread(record)
    logger.info("Model %s deployed by %s to %s", model_id, staff.username, [item.url for item in swapped])
    return DeployOut(
        model_id=model_id,
        kind=deployment.kind,
        rasa_processes=[item.url for item in swapped],
        deployment=DeploymentView.model_validate(deployment.model_dump()),
    )


@router.post("/models/rollback", response_model=DeployOut)
async def rollback(
    request: Request, staff: OpsStaff, factory: SessionFactoryDep, settings: SettingsDep, training: TrainingSettingsDep
) -> DeployOut:
    """Put the model that was live before the current one back on every Rasa process."""

    def previous() -> int | None:
        with factory() as session:
            return store.previous_live_model_id(session)

    model_id = await asyncio.to_thread(previous)
    if model_id is None:
        raise _error(409, "nothing_to_roll_back", "no earlier model was live before the current one")
    return await _deploy(request, staff, factory, settings, training, model_id, None, rollback=True)


@router.post("/models/{model_id}/deploy", response_model=DeployOut)
async def deploy(
    request: Request,
    staff: OpsStaff,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    training: TrainingSettingsDep,
    model_id: Annotated[int, Path(ge=1)],
    body: DeployIn | None = None,
) -> DeployOut:
    """Hot-swap `model_id` onto every Rasa process. 409 with the gate's reasons when it is worse than the live
    model (a supervisor may override with `override_reason`); a model that was live before deploys without
    the gate (that is a rollback)."""
    reason = body.override_reason if body is not None else None
    return await _deploy(request, staff, factory, settings, training, model_id, reason)


@page_router.get("/ops/training")
async def training_page() -> Response:
    """The training page (Chinese UI); it asks for a staff login itself."""
    return Response((STATIC_DIR / "training.html").read_bytes(), media_type="text/html; charset=utf-8")
