"""Training jobs, trained models and their deployments (the ops console's train/deploy/rollback loop).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("evaluation", sa.JSON(), nullable=True),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model")),
    )
    op.create_index(op.f("ix_model_fingerprint"), "model", ["fingerprint"], unique=False)
    op.create_table(
        "training_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=128), nullable=True),
        sa.Column("phase", sa.String(length=32), nullable=False),
        sa.Column("percent", sa.Float(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("log_tail", sa.Text(), nullable=False),
        sa.Column("log_path", sa.String(length=512), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f("ck_training_job_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_job")),
    )
    op.create_index(op.f("ix_training_job_status"), "training_job", ["status"], unique=False)
    op.create_table(
        "model_deployment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("previous_model_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("deployed_by", sa.String(length=64), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("gate_reasons", sa.JSON(), nullable=False),
        sa.CheckConstraint("kind IN ('deploy', 'rollback', 'startup')", name=op.f("ck_model_deployment_kind")),
        sa.ForeignKeyConstraint(["model_id"], ["model.id"], name=op.f("fk_model_deployment_model_id_model")),
        sa.ForeignKeyConstraint(
            ["previous_model_id"], ["model.id"], name=op.f("fk_model_deployment_previous_model_id_model")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_deployment")),
    )
    op.create_index(op.f("ix_model_deployment_model_id"), "model_deployment", ["model_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_model_deployment_model_id"), table_name="model_deployment")
    op.drop_table("model_deployment")
    op.drop_index(op.f("ix_training_job_status"), table_name="training_job")
    op.drop_table("training_job")
    op.drop_index(op.f("ix_model_fingerprint"), table_name="model")
    op.drop_table("model")
