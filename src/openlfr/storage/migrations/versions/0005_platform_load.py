"""Running aggregates of the figures (platform under load): ``figure_tallies``, one count
per deployment, day and name (filled from the alerts and counter batches already recorded
by 0008's recount, which fills the month tallies added there too).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 06:00:00.000000
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
        "figure_tallies",
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"],
                                name=op.f("fk_figure_tallies_deployment_id_deployments"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("deployment_id", "day", "name",
                                name=op.f("pk_figure_tallies")),
    )


def downgrade() -> None:
    op.drop_table("figure_tallies")
