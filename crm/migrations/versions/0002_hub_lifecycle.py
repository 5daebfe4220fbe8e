"""Event-driven hub: "queue" owner, conversation close reason, owner history, push-delivery state per message.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversation") as batch:
        batch.drop_constraint(op.f("ck_conversation_owner"), type_="check")
        batch.create_check_constraint("owner", "owner IN ('bot', 'queue', 'agent')")
        batch.add_column(sa.Column("close_reason", sa.String(length=8), nullable=True))
        batch.create_check_constraint("close_reason", "close_reason IN ('agent', 'idle')")
        batch.create_index(
            "ix_conversation_open_last_message_at",
            ["last_message_at"],
            sqlite_where=sa.text("status = 'open'"),
            postgresql_where=sa.text("status = 'open'"),
        )
    with op.batch_alter_table("message") as batch:
        batch.add_column(sa.Column("delivery_state", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("delivery_attempts", sa.Integer(), server_default="0", nullable=False))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("delivery_error", sa.Text(), nullable=True))
        batch.create_check_constraint(
            "delivery_state", "delivery_state IN ('pending', 'sending', 'delivered', 'failed')"
        )
        batch.create_index("ix_message_delivery_state_next_attempt_at", ["delivery_state", "next_attempt_at"])
    op.create_table(
        "conversation_owner_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("from_owner", sa.String(length=8), nullable=False),
        sa.Column("to_owner", sa.String(length=8), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "from_owner IN ('bot', 'queue', 'agent')", name=op.f("ck_conversation_owner_change_from_owner")
        ),
        sa.CheckConstraint("to_owner IN ('bot', 'queue', 'agent')", name=op.f("ck_conversation_owner_change_to_owner")),
        sa.ForeignKeyConstraint(["agent_id"], ["agent.id"], name=op.f("fk_conversation_owner_change_agent_id_agent")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_conversation_owner_change_conversation_id_conversation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_owner_change")),
    )
    op.create_index(
        op.f("ix_conversation_owner_change_conversation_id"),
        "conversation_owner_change",
        ["conversation_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_conversation_owner_change_conversation_id"), table_name="conversation_owner_change")
    op.drop_table("conversation_owner_change")
    with op.batch_alter_table("message") as batch:
        batch.drop_index("ix_message_delivery_state_next_attempt_at")
        batch.drop_constraint(op.f("ck_message_delivery_state"), type_="check")
        for column in ("delivery_error", "delivered_at", "next_attempt_at", "delivery_attempts", "delivery_state"):
            batch.drop_column(column)
    # Conversations held by the queue go back to the bot: the old schema has no "queue" owner.
    op.execute("UPDATE conversation SET owner = 'bot' WHERE owner = 'queue'")
    with op.batch_alter_table("conversation") as batch:
        batch.drop_index("ix_conversation_open_last_message_at")
        batch.drop_constraint(op.f("ck_conversation_close_reason"), type_="check")
        batch.drop_column("close_reason")
        batch.drop_constraint(op.f("ck_conversation_owner"), type_="check")
        batch.create_check_constraint("owner", "owner IN ('bot', 'agent')")
