"""An engagement event's PDF evidence is replaced by a redacted copy at most once, and the
redaction is published with the SHA-256 of the PDF as first published
(``evidence_first_sha256``) and of the redacted copy (``evidence_redacted_sha256``); a
removal, then or later, has its own published reason, time and author
(``evidence_removal_reason``, ``evidence_removed_at``, ``evidence_removed_by``) instead of
writing over the redaction's.

Filled for existing events: the first hash from the stored PDF where it was never
redacted, else from the audit log (the ``previous_sha256`` of the first redaction or
removal since the last plain upload); the redaction (its first published reason) and the
removal from the audit log where it has them. A PDF uploaded plainly after a redaction,
before the log froze, loses the "redacted" label it wrongly kept.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 10:00:00.000000
"""

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from openlfr.storage.types import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ATTACHED = "engagement.evidence_attached"
REDACTED = "engagement.evidence_redacted"
REMOVED = "engagement.evidence_removed"

events = sa.table(
    "engagement_events", sa.column("id", sa.Integer),
    sa.column("evidence_pdf", sa.LargeBinary),
    sa.column("evidence_first_sha256", sa.String),
    sa.column("evidence_redaction", sa.String),
    sa.column("evidence_redaction_reason", sa.Text),
    sa.column("evidence_redacted_at", UTCDateTime()),
    sa.column("evidence_redacted_by", sa.String),
    sa.column("evidence_redacted_sha256", sa.String),
    sa.column("evidence_removal_reason", sa.Text),
    sa.column("evidence_removed_at", UTCDateTime()),
    sa.column("evidence_removed_by", sa.String))


def upgrade() -> None:
    # In place: copying the table on SQLite would cascade-delete what refers to it.
    with op.batch_alter_table("engagement_events", recreate="never") as batch:
        batch.add_column(sa.Column("evidence_first_sha256", sa.String(length=64),
                                   nullable=True))
        batch.add_column(sa.Column("evidence_redacted_sha256", sa.String(length=64),
                                   nullable=True))
        batch.add_column(sa.Column("evidence_removal_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("evidence_removed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("evidence_removed_by", sa.String(length=64),
                                   nullable=True))
    connection = op.get_bind()
    trails = _trails(connection)
    rows = connection.execute(sa.select(
        events.c.id, events.c.evidence_pdf, events.c.evidence_redaction,
        events.c.evidence_redaction_reason, events.c.evidence_redacted_at,
        events.c.evidence_redacted_by).where(sa.or_(
            events.c.evidence_pdf.is_not(None), events.c.evidence_redaction.is_not(None)))
    ).all()
    for event_id, pdf, state, reason, at, by in rows:
        values = _filled(trails.get(event_id, []), pdf, state, reason, at, by)
        connection.execute(events.update().where(events.c.id == event_id).values(**values))


def _trails(connection: sa.Connection) -> dict[int, list[dict[str, Any]]]:
    """Each event's evidence uploads, redactions and removals from the audit log, oldest
    first: {"action", "details", "actor", "at"}."""
    audit = sa.table("audit_events", sa.column("seq", sa.Integer),
                     sa.column("action", sa.String), sa.column("actor", sa.String),
                     sa.column("occurred_at", sa.String), sa.column("details", sa.Text))
    trails: dict[int, list[dict[str, Any]]] = {}
    for action, actor, occurred_at, details in connection.execute(
            sa.select(audit.c.action, audit.c.actor, audit.c.occurred_at, audit.c.details)
            .where(audit.c.action.in_((ATTACHED, REDACTED, REMOVED)))
            .order_by(audit.c.seq)).all():
        said = json.loads(details)
        if isinstance(said, dict) and isinstance(said.get("event_id"), int):
            trails.setdefault(said["event_id"], []).append(
                {"action": action, "details": said, "actor": actor,
                 "at": _moment(occurred_at)})
    return trails


def _filled(trail: list[dict[str, Any]], pdf: bytes | None, state: str | None,
            reason: str | None, at: datetime | None, by: str | None) -> dict[str, Any]:
    """The new columns of one event (and the redaction columns, where they change)."""
    uploads = [i for i, step in enumerate(trail) if step["action"] == ATTACHED]
    since = trail[uploads[-1] + 1:] if uploads else trail
    plain = {"evidence_first_sha256": _sha256(pdf)}
    if state is None:
        return plain
    if uploads and not since and pdf is not None:
        # A plain upload after the redaction, before the log froze: the label was wrong.
        return {**plain, "evidence_redaction": None, "evidence_redaction_reason": None,
                "evidence_redacted_at": None, "evidence_redacted_by": None}
    redactions = [step for step in since if step["action"] == REDACTED]
    first = since[0]["details"].get("previous_sha256") if since else None
    values: dict[str, Any] = {"evidence_first_sha256": first}
    if redactions:
        # The first published reason (a later swap wrote over it), and the copy published
        # last.
        values.update(evidence_redaction_reason=redactions[0]["details"].get("reason"),
                      evidence_redacted_at=redactions[0]["at"],
                      evidence_redacted_by=redactions[0]["actor"],
                      evidence_redacted_sha256=redactions[-1]["details"].get("sha256"))
    elif state == "redacted":
        values["evidence_redacted_sha256"] = _sha256(pdf)
    else:
        values.update(evidence_redaction_reason=None, evidence_redacted_at=None,
                      evidence_redacted_by=None)
    if state == "removed":
        values.update(evidence_removal_reason=reason, evidence_removed_at=at,
                      evidence_removed_by=by)
    return values


def _sha256(pdf: bytes | None) -> str | None:
    return None if pdf is None else hashlib.sha256(pdf).hexdigest()


def _moment(text: str) -> datetime:
    """An audit event's time (ISO text as hashed), as an aware datetime."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def downgrade() -> None:
    # Before 0015 the redaction columns held the latest change: a removal's, if any.
    connection = op.get_bind()
    connection.execute(events.update().where(events.c.evidence_removed_at.is_not(None))
                       .values(evidence_redaction_reason=events.c.evidence_removal_reason,
                               evidence_redacted_at=events.c.evidence_removed_at,
                               evidence_redacted_by=events.c.evidence_removed_by))
    with op.batch_alter_table("engagement_events", recreate="never") as batch:
        batch.drop_column("evidence_removed_by")
        batch.drop_column("evidence_removed_at")
        batch.drop_column("evidence_removal_reason")
        batch.drop_column("evidence_redacted_sha256")
        batch.drop_column("evidence_first_sha256")
