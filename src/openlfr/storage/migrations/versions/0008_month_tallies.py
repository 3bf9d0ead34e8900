"""The figures' running tallies summed by month too (``figure_month_tallies``). They are
filled by 0010's recount of every deployment's figures (the recount reads columns that
later migrations add, so it runs after them).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "figure_month_tallies",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"],
                                name=op.f("fk_figure_month_tallies_deployment_id_deployments"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("deployment_id", "month", "name",
                                name=op.f("pk_figure_month_tallies")),
    )


def downgrade() -> None:
    op.drop_table("figure_month_tallies")
