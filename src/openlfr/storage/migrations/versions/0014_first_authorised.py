"""When a deployment was first authorised (``deployments.first_authorised_at``), kept when an
amendment or a reschedule withdraws the authorisation: from then on its impact assessment
and engagement log change only by public amendment. Filled for existing deployments from
the audit log's first ``deployment.authorise`` event.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 03:15:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from openlfr.storage.types import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # In place: copying the table on SQLite would cascade-delete what refers to it.
    with op.batch_alter_table("deployments", recreate="never") as batch:
        batch.add_column(sa.Column("first_authorised_at", UTCDateTime(), nullable=True))
    deployments = sa.table("deployments", sa.column("id", sa.Integer),
                           sa.column("authorised_at", UTCDateTime()),
                           sa.column("first_authorised_at", UTCDateTime()))
    events = sa.table("audit_events", sa.column("subject_type", sa.String),
                      sa.column("subject_id", sa.String), sa.column("action", sa.String),
                      sa.column("occurred_at", sa.String))
    connection = op.get_bind()
    first = dict(connection.execute(
        sa.select(events.c.subject_id, sa.func.min(events.c.occurred_at))
        .where(events.c.subject_type == "deployment",
               events.c.action == "deployment.authorise")
        .group_by(events.c.subject_id)).all())
    rows = connection.execute(sa.select(deployments.c.id, deployments.c.authorised_at)).all()
    for deployment_id, authorised_at in rows:
        logged = first.get(str(deployment_id))
        moment = _moment(logged) if logged is not None else authorised_at
        if moment is not None:
            connection.execute(deployments.update().where(deployments.c.id == deployment_id)
                               .values(first_authorised_at=moment))


def _moment(text: str) -> datetime:
    """An audit event's time (ISO text as hashed), as an aware datetime."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def downgrade() -> None:
    with op.batch_alter_table("deployments", recreate="never") as batch:
        batch.drop_column("first_authorised_at")
