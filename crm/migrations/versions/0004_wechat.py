"""WeChat official-account channel: reply claims (retry de-duplication), access-token cache, followers,
offered numbered choices, openid binding codes and refused deliveries.

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wechat_access_token",
        sa.Column("appid", sa.String(length=32), nullable=False),
        sa.Column("access_token", sa.String(length=512), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("appid", name=op.f("pk_wechat_access_token")),
    )
    op.create_table(
        "wechat_follower",
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("subscribed", sa.Boolean(), nullable=False),
        sa.Column("subscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("openid", name=op.f("pk_wechat_follower")),
    )
    op.create_table(
        "wechat_inbound",
        sa.Column("msg_key", sa.String(length=128), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("reply_mode", sa.String(length=8), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("reply_mode IN ('pending', 'passive', 'push')", name=op.f("ck_wechat_inbound_reply_mode")),
        sa.PrimaryKeyConstraint("msg_key", name=op.f("pk_wechat_inbound")),
    )
    op.create_index(op.f("ix_wechat_inbound_openid"), "wechat_inbound", ["openid"], unique=False)
    op.create_table(
        "wechat_binding_code",
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], name=op.f("fk_wechat_binding_code_customer_id_customer")
        ),
        sa.PrimaryKeyConstraint("openid", name=op.f("pk_wechat_binding_code")),
    )
    op.create_table(
        "wechat_offered_choices",
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_wechat_offered_choices_conversation_id_conversation"),
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_wechat_offered_choices")),
    )
    op.create_table(
        "wechat_delivery_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("errcode", sa.Integer(), nullable=False),
        sa.Column("errmsg", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["message.id"], name=op.f("fk_wechat_delivery_failure_message_id_message")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_delivery_failure")),
    )
    op.create_index(
        op.f("ix_wechat_delivery_failure_message_id"), "wechat_delivery_failure", ["message_id"], unique=False
    )
    op.create_index(op.f("ix_wechat_delivery_failure_openid"), "wechat_delivery_failure", ["openid"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_wechat_delivery_failure_openid"), table_name="wechat_delivery_failure")
    op.drop_index(op.f("ix_wechat_delivery_failure_message_id"), table_name="wechat_delivery_failure")
    op.drop_table("wechat_delivery_failure")
    op.drop_table("wechat_offered_choices")
    op.drop_table("wechat_binding_code")
    op.drop_index(op.f("ix_wechat_inbound_openid"), table_name="wechat_inbound")
    op.drop_table("wechat_inbound")
    op.drop_table("wechat_follower")
    op.drop_table("wechat_access_token")
