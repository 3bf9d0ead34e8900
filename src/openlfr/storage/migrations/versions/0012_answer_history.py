"""Published answers keep their earlier versions: an answer to feedback, oversight's
response to an escalation and the force's response to a council motion are revised only
with a reason, and what they said before stays published with it (``answer_history``,
``oversight_response_history``, ``response_history``: JSON lists, oldest first). A
motion's response also records who published it (``response_published_by``). Answers
revised before this revision kept no earlier text; their lists start empty.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("answer_history", sa.JSON(), server_default="[]",
                                   nullable=False))
        batch.add_column(sa.Column("oversight_response_history", sa.JSON(),
                                   server_default="[]", nullable=False))
    with op.batch_alter_table("council_motions") as batch:
        batch.add_column(sa.Column("response_published_by", sa.String(length=64),
                                   nullable=True))
        batch.add_column(sa.Column("response_history", sa.JSON(), server_default="[]",
                                   nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("council_motions") as batch:
        batch.drop_column("response_history")
        batch.drop_column("response_published_by")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("oversight_response_history")
        batch.drop_column("answer_history")
