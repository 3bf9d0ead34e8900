"""An admin's change to a force account (a new account, a new role, a password reset, a
reactivation) is held until oversight countersigns it (``users.held_change``: what it
would do, who asked and when). Existing accounts hold nothing.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # In place: copying the table on SQLite would cascade-delete what refers to it.
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.add_column(sa.Column("held_change", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.drop_column("held_change")
