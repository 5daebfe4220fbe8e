"""Training jobs, the models they produced and every deployment (who put which model live, when, and why)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.models.base import Base, enum_check
from crm.types import utcnow

TRAINING_JOB_STATUSES = ("queued", "running", "succeeded", "failed")
# deploy: through the console (gate checked); rollback: back to a model that was live before;
# startup: the model `make run` started Rasa with.
DEPLOYMENT_KINDS = ("deploy", "rollback", "startup")


class TrainingJob(Base):
    """One request to train; claimed by exactly one worker process, which writes its progress here."""

    __tablename__ = "training_job"
    __table_args__ = (enum_check("status", TRAINING_JOB_STATUSES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # The worker writes a heartbeat with every progress update; a running job whose heartbeat is old
    # belongs to a worker that died and is failed by the next claim.
    heartbeat_at: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(String(128))
    phase: Mapped[str] = mapped_column(String(32), default="queued")
    percent: Mapped[float] = mapped_column(Float, default=0.0)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    log_tail: Mapped[str] = mapped_column(Text, default="")
    log_path: Mapped[str | None] = mapped_column(String(512))
    error: Mapped[str | None] = mapped_column(Text)
    model_id: Mapped[int | None] = mapped_column(Integer)


class TrainedModel(Base):
    """A trained Rasa model file with the fingerprint of its inputs and its evaluation."""

    __tablename__ = "model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    job_id: Mapped[int | None] = mapped_column(Integer)
    evaluation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    live: Mapped[bool] = mapped_column(Boolean, default=False)


class ModelDeployment(Base):
    """One deployment: the model that went live, the one it replaced, who did it and any gate override."""

    __tablename__ = "model_deployment"
    __table_args__ = (enum_check("kind", DEPLOYMENT_KINDS),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model.id"), index=True)
    previous_model_id: Mapped[int | None] = mapped_column(ForeignKey("model.id"))
    kind: Mapped[str] = mapped_column(String(16))
    deployed_by: Mapped[str] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)
    override_reason: Mapped[str | None] = mapped_column(Text)
    # The gate's reasons this deployment overrode (empty when the gate passed).
    gate_reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
