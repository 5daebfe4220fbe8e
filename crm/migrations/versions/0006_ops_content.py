"""Ops content: every saved version of an edited training document (content_version).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "content_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("base_number", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "number > 0 AND base_number >= 0 AND base_number < number",
            name=op.f("ck_content_version_number_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_version")),
        sa.UniqueConstraint("path", "number", name=op.f("uq_content_version_path_number")),
    )
    op.create_index(op.f("ix_content_version_path"), "content_version", ["path"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_content_version_path"), table_name="content_version")
    op.drop_table("content_version")
