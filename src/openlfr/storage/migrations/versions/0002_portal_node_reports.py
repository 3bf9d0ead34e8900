"""Portal, engine node and reports: wording exceptions, postcode districts, moderation
traces, e-mail notice (subscriptions and an outbox), reference photos and probe crops
(encrypted), counter periods, rescheduling and post-deployment reviews.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 17:55:30.794880
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import openlfr.storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notice_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("area_slug", sa.String(length=200), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("unsubscribed_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_subscriptions")),
        sa.UniqueConstraint("email", "area_slug", name=op.f("uq_notice_subscriptions_email")),
        sa.UniqueConstraint("token", name=op.f("uq_notice_subscriptions_token")),
    )
    with op.batch_alter_table("notice_subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notice_subscriptions_area_slug"), ["area_slug"], unique=False
        )

    op.create_table(
        "outgoing_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["notice_subscriptions.id"],
            name=op.f("fk_outgoing_emails_subscription_id_notice_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_emails")),
    )
    with op.batch_alter_table("outgoing_emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outgoing_emails_sent_at"), ["sent_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outgoing_emails_subscription_id"), ["subscription_id"], unique=False
        )

    op.create_table(
        "deployment_reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("generated_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployment_reviews_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_reviews")),
        sa.UniqueConstraint(
            "deployment_id", "version", name=op.f("uq_deployment_reviews_deployment_id")
        ),
    )
    with op.batch_alter_table("deployment_reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deployment_reviews_deployment_id"), ["deployment_id"], unique=False
        )

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("probe_crop_encrypted", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("probe_crop_purged_at", openlfr.storage.types.UTCDateTime(), nullable=True)
        )

    with op.batch_alter_table("consultation_responses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("postcode_district", sa.String(length=8), nullable=True))

    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("wording_exceptions", sa.JSON(), server_default="{}", nullable=False)
        )

    with op.batch_alter_table("counter_batches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("frames_processed", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("frames_dropped", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("period_start", openlfr.storage.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("period_end", openlfr.storage.types.UTCDateTime(), nullable=True)
        )

    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rescheduled_at", openlfr.storage.types.UTCDateTime(), nullable=True)
        )

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("moderated_at", openlfr.storage.types.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("moderated_by", sa.String(length=64), nullable=True))

    with op.batch_alter_table("watchlist_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_encrypted", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("watchlist_entries", schema=None) as batch_op:
        batch_op.drop_column("image_encrypted")

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("moderated_by")
        batch_op.drop_column("moderated_at")

    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("rescheduled_at")

    with op.batch_alter_table("counter_batches", schema=None) as batch_op:
        batch_op.drop_column("period_end")
        batch_op.drop_column("period_start")
        batch_op.drop_column("frames_dropped")
        batch_op.drop_column("frames_processed")

    with op.batch_alter_table("consultations", schema=None) as batch_op:
        batch_op.drop_column("wording_exceptions")

    with op.batch_alter_table("consultation_responses", schema=None) as batch_op:
        batch_op.drop_column("postcode_district")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("probe_crop_purged_at")
        batch_op.drop_column("probe_crop_encrypted")

    with op.batch_alter_table("deployment_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_reviews_deployment_id"))

    op.drop_table("deployment_reviews")
    with op.batch_alter_table("outgoing_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outgoing_emails_subscription_id"))
        batch_op.drop_index(batch_op.f("ix_outgoing_emails_sent_at"))

    op.drop_table("outgoing_emails")
    with op.batch_alter_table("notice_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_subscriptions_area_slug"))

    op.drop_table("notice_subscriptions")
