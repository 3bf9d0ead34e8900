"""The second opinion on the platform: a watchlist's reference model and each entry's
encrypted reference descriptors; an equity audit's second opinion model; whether an
alert needed it.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("watchlists") as batch:
        batch.add_column(sa.Column("reference_model", sa.String(length=200), nullable=True))
    with op.batch_alter_table("watchlist_entries") as batch:
        batch.add_column(sa.Column("references_encrypted", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("equity_audits") as batch:
        batch.add_column(sa.Column("second_opinion_model", sa.String(length=200),
                                   nullable=True))
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("second_opinion", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("second_opinion")
    with op.batch_alter_table("equity_audits") as batch:
        batch.drop_column("second_opinion_model")
    with op.batch_alter_table("watchlist_entries") as batch:
        batch.drop_column("references_encrypted")
    with op.batch_alter_table("watchlists") as batch:
        batch.drop_column("reference_model")
