"""Customer messages held while no Rasa server was reachable, replayed in order when one is.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_bot_turn",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("rasa_message", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=8), server_default="waiting", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('waiting', 'done', 'expired')", name=op.f("ck_pending_bot_turn_state")),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversation.id"], name=op.f("fk_pending_bot_turn_conversation_id_conversation")
        ),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], name=op.f("fk_pending_bot_turn_message_id_message")),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_pending_bot_turn")),
    )
    op.create_index(op.f("ix_pending_bot_turn_conversation_id"), "pending_bot_turn", ["conversation_id"])
    op.create_index(op.f("ix_pending_bot_turn_state"), "pending_bot_turn", ["state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_pending_bot_turn_state"), table_name="pending_bot_turn")
    op.drop_index(op.f("ix_pending_bot_turn_conversation_id"), table_name="pending_bot_turn")
    op.drop_table("pending_bot_turn")
