"""Equity audits keep their overall identification results (TPIR and FPIR per watchlist
size and threshold), which the threshold gate holds against OPENLFR_MAX_AUDIT_FPIR.

Audits recorded before have none (an empty list): the gate says it could not check them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("equity_audits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identification", sa.JSON(), server_default="[]",
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("equity_audits", schema=None) as batch_op:
        batch_op.drop_column("identification")
