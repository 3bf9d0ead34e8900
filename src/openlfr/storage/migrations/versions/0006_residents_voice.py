"""Objections with outcomes, follows, co-signatures; consultation minimums (residents' voice).

Feedback gains what came of it (an outcome, the amendment of a plan change), the author's
private link, one reply, an escalation to oversight and oversight's response; people can
follow a piece of feedback by e-mail (double opt-in). Feedback recorded before has none of
these (NULL): its answer stays as it was published.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 06:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from openlfr.storage.types import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("amendment_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("author_token", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reply", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("replied_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("escalation", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("oversight_response", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("oversight_responded_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("oversight_responded_by", sa.String(length=64),
                                      nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_feedback_amendment_id_amendments"),
                                    "amendments", ["amendment_id"], ["id"],
                                    ondelete="SET NULL")
        batch_op.create_unique_constraint(batch_op.f("uq_feedback_author_token"),
                                          ["author_token"])
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("street", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("postcode", sa.String(length=10), nullable=True))
    op.create_table(
        "feedback_follows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("unsubscribed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["feedback_id"], ["feedback.id"],
                                name=op.f("fk_feedback_follows_feedback_id_feedback"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_follows")),
        sa.UniqueConstraint("feedback_id", "email", name=op.f("uq_feedback_follows_feedback_id")),
        sa.UniqueConstraint("token", name=op.f("uq_feedback_follows_token")),
    )
    with op.batch_alter_table("feedback_follows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_follows_feedback_id"), ["feedback_id"],
                              unique=False)
    op.create_table(
        "collective_objections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=200), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("attached_at", UTCDateTime(), nullable=True),
        sa.Column("hearing_held_on", sa.Date(), nullable=True),
        sa.Column("hearing_record", sa.Text(), nullable=True),
        sa.Column("hearing_recorded_by", sa.String(length=64), nullable=True),
        sa.Column("hearing_recorded_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"],
                                name=op.f("fk_collective_objections_deployment_id_deployments"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collective_objections")),
    )
    with op.batch_alter_table("collective_objections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_collective_objections_area_code"), ["area_code"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_collective_objections_deployment_id"),
                              ["deployment_id"], unique=False)
    op.create_table(
        "collective_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("objection_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["objection_id"], ["collective_objections.id"],
            name=op.f("fk_collective_signatures_objection_id_collective_objections"),
            ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collective_signatures")),
        sa.UniqueConstraint("objection_id", "email",
                            name=op.f("uq_collective_signatures_objection_id")),
        sa.UniqueConstraint("token", name=op.f("uq_collective_signatures_token")),
    )
    with op.batch_alter_table("collective_signatures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_collective_signatures_objection_id"),
                              ["objection_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("collective_signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collective_signatures_objection_id"))
    op.drop_table("collective_signatures")
    with op.batch_alter_table("collective_objections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collective_objections_deployment_id"))
        batch_op.drop_index(batch_op.f("ix_collective_objections_area_code"))
    op.drop_table("collective_objections")
    with op.batch_alter_table("feedback_follows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_follows_feedback_id"))
    op.drop_table("feedback_follows")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_feedback_author_token"), type_="unique")
        batch_op.drop_constraint(batch_op.f("fk_feedback_amendment_id_amendments"),
                                 type_="foreignkey")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("postcode")
        batch_op.drop_column("street")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        for column in ("oversight_responded_by", "oversight_responded_at", "oversight_response",
                       "escalation", "escalated_at", "replied_at", "reply", "author_token",
                       "amendment_id", "outcome"):
            batch_op.drop_column(column)
