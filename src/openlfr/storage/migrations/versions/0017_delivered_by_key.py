"""Each alert and counter batch a node delivers records the key that delivered it
(``api_key_id``): a key found leaked, copied or misused shows what it sent, and a
deployment's figures can be read per key. Rows recorded before are from no known key.

A password someone else chose records who chose it (``users.password_set_by``) until the
person's first login: the one who chose it is never also given the first login's code,
whoever asks for the change that puts it in force. Left unset on the way up: a password
waiting now was chosen by an admin (oversight's own accounts were not held before this
revision), and an admin never countersigns.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = ("alerts", "counter_batches")


def upgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.add_column(sa.Column("password_set_by", sa.String(length=64), nullable=True))
    for table in _TABLES:
        # In place: copying the table on SQLite would cascade-delete what refers to it.
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.add_column(sa.Column("api_key_id", sa.Integer(), nullable=True))
        op.create_index(f"ix_{table}_api_key_id", table, ["api_key_id"])


def downgrade() -> None:
    for table in _TABLES:
        op.drop_index(f"ix_{table}_api_key_id", table_name=table)
        with op.batch_alter_table(table, recreate="never") as batch:
            batch.drop_column("api_key_id")
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.drop_column("password_set_by")
