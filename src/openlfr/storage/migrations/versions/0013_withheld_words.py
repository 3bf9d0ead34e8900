"""Words published only when someone stands behind them, and withheld when they harm
someone. A collective objection is public from its starter's confirmation
(``published_at``), and its text can be withheld for abuse as feedback's can
(``hidden_for_abuse``, ``moderation_reason``, ``moderated_at``, ``moderated_by``). An
engagement event's PDF evidence can be replaced by a redacted copy or removed, for
privacy, at any status (``evidence_redaction``: "redacted" or "removed", with its
published reason, when and by whom).

Objections filed before this revision were public at once; those that at least one
confirmed signature stands behind stay public (from the first confirmation), the others
wait for their starter's.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 00:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from openlfr.storage.types import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Columns added in place: on SQLite, copying the table to a new one would drop the old,
    # and its signatures with it (ON DELETE CASCADE, foreign keys on).
    with op.batch_alter_table("collective_objections", recreate="never") as batch:
        batch.add_column(sa.Column("published_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("hidden_for_abuse", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("moderation_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("moderated_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("moderated_by", sa.String(length=64), nullable=True))
    op.execute(sa.text(
        "UPDATE collective_objections SET published_at = ("
        "SELECT MIN(s.confirmed_at) FROM collective_signatures s "
        "WHERE s.objection_id = collective_objections.id)"))
    with op.batch_alter_table("engagement_events") as batch:
        batch.add_column(sa.Column("evidence_redaction", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("evidence_redaction_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("evidence_redacted_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("evidence_redacted_by", sa.String(length=64),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("engagement_events") as batch:
        batch.drop_column("evidence_redacted_by")
        batch.drop_column("evidence_redacted_at")
        batch.drop_column("evidence_redaction_reason")
        batch.drop_column("evidence_redaction")
    with op.batch_alter_table("collective_objections") as batch:
        batch.drop_column("moderated_by")
        batch.drop_column("moderated_at")
        batch.drop_column("moderation_reason")
        batch.drop_column("hidden_for_abuse")
        batch.drop_column("published_at")
