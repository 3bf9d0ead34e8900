"""ATRS register entries, stop outcomes, gate snapshots (public records).

Technology register entries gain the ATRS fields people write (JSON, empty for entries
registered before), a version number and their published versions; alerts gain what
followed an arrest (NULL for those recorded before); API keys gain when they were last
used. Gate snapshots already exist
(deployments.gate_snapshots).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from openlfr.storage.types import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("technologies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("atrs", sa.JSON(), server_default="{}", nullable=False))
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1",
                                      nullable=False))
        batch_op.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
    op.create_table(
        "technology_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("technology_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("published_by", sa.String(length=64), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["technology_id"], ["technologies.id"],
                                name=op.f("fk_technology_versions_technology_id_technologies"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technology_versions")),
        sa.UniqueConstraint("technology_id", "version",
                            name=op.f("uq_technology_versions_technology_id")),
    )
    with op.batch_alter_table("technology_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_technology_versions_technology_id"),
                              ["technology_id"], unique=False)
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("later_outcome", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("later_outcome_recorded_at", UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column("later_outcome_recorded_by", sa.String(length=64),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for column in ("later_outcome_recorded_by", "later_outcome_recorded_at",
                       "later_outcome"):
            batch_op.drop_column(column)
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
    with op.batch_alter_table("technology_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_technology_versions_technology_id"))
    op.drop_table("technology_versions")
    with op.batch_alter_table("technologies", schema=None) as batch_op:
        for column in ("updated_at", "version", "atrs"):
            batch_op.drop_column(column)
