"""Business codes are data: drop the CHECK that limited `business.code` to the four demo businesses, so a
business of an existing booking kind is added with rows and policy/bookings.yml, without a migration.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEMO_BUSINESS_CODES = ("car_care", "menswear", "hotel", "restaurant")


def upgrade() -> None:
    with op.batch_alter_table("business") as batch:
        batch.drop_constraint(op.f("ck_business_code"), type_="check")


def downgrade() -> None:
    allowed = ", ".join(f"'{code}'" for code in DEMO_BUSINESS_CODES)
    with op.batch_alter_table("business") as batch:
        batch.create_check_constraint("code", f"code IN ({allowed})")
