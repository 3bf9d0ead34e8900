"""Initial schema: deployments, governance records, watchlists, alerts, users, audit chain.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-23 07:26:15.371464
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import openlfr.storage.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("occurred_at", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("subject_type", sa.String(length=50), nullable=False),
        sa.Column("subject_id", sa.String(length=100), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)

    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The chain starts empty: the first event links to 64 zeros.
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "hash": "0" * 64}])
    op.create_table(
        "council_motions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("body", sa.String(length=200), nullable=False),
        sa.Column("passed_on", sa.Date(), nullable=False),
        sa.Column("stance", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("areas", sa.JSON(), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("response_published_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_council_motions")),
    )
    op.create_table(
        "technologies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=200), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("vendor_or_project", sa.String(length=200), nullable=False),
        sa.Column("default_threshold", sa.Float(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technologies")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("borough", sa.String(length=100), nullable=False),
        sa.Column("ward", sa.String(length=100), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("offence_categories", sa.JSON(), nullable=False),
        sa.Column("intelligence_basis", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("camera_count", sa.Integer(), nullable=False),
        sa.Column("signage", sa.Text(), nullable=False),
        sa.Column("start_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.Column("end_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("technology_id", sa.Integer(), nullable=True),
        sa.Column("notice_published_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("authorised_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("activated_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("completed_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("reviewed_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("review_summary", sa.Text(), nullable=True),
        sa.Column("gate_snapshots", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["technology_id"],
            ["technologies.id"],
            name=op.f("fk_deployments_technology_id_technologies"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint("reference", name=op.f("uq_deployments_reference")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployments_status"), ["status"], unique=False)

    op.create_table(
        "equity_audits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("technology_id", sa.Integer(), nullable=False),
        sa.Column("conducted_on", sa.Date(), nullable=False),
        sa.Column("dataset", sa.String(length=300), nullable=False),
        sa.Column("engine_version", sa.String(length=200), nullable=False),
        sa.Column("thresholds_swept", sa.JSON(), nullable=False),
        sa.Column("group_results", sa.JSON(), nullable=False),
        sa.Column("recommended_threshold", sa.Float(), nullable=False),
        sa.Column("fair_threshold", sa.Float(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["technology_id"],
            ["technologies.id"],
            name=op.f("fk_equity_audits_technology_id_technologies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_equity_audits")),
    )
    with op.batch_alter_table("equity_audits", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_equity_audits_technology_id"), ["technology_id"], unique=False
        )

    op.create_table(
        "login_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_login_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_login_sessions_token_hash")),
    )
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_api_keys_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_keys_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "consultations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("benefits", sa.Text(), nullable=False),
        sa.Column("risks", sa.Text(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("closed_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_consultations_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultations")),
        sa.UniqueConstraint("deployment_id", name=op.f("uq_consultations_deployment_id")),
    )
    op.create_table(
        "counter_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("faces_seen", sa.Integer(), nullable=False),
        sa.Column("tracks", sa.Integer(), nullable=False),
        sa.Column("received_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_counter_batches_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_batches")),
        sa.UniqueConstraint(
            "deployment_id", "batch_id", name=op.f("uq_counter_batches_deployment_id")
        ),
    )
    with op.batch_alter_table("counter_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_counter_batches_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "engagement_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("audience", sa.String(length=32), nullable=False),
        sa.Column("attendees", sa.Integer(), nullable=False),
        sa.Column("materials", sa.Text(), nullable=False),
        sa.Column("questions_raised", sa.JSON(), nullable=False),
        sa.Column("created_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_engagement_events_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_events")),
    )
    with op.batch_alter_table("engagement_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_engagement_events_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(length=300), nullable=True),
        sa.Column("submitted_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.Column("answer_due_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("hidden_for_abuse", sa.Boolean(), nullable=False),
        sa.Column("moderation_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_feedback_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "gate_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("transition", sa.String(length=32), nullable=False),
        sa.Column("failing_gates", sa.JSON(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_gate_overrides_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_overrides")),
    )
    with op.batch_alter_table("gate_overrides", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_gate_overrides_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "impact_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("area_profile", sa.Text(), nullable=False),
        sa.Column("risks", sa.Text(), nullable=False),
        sa.Column("mitigations", sa.Text(), nullable=False),
        sa.Column("equality_impact", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("published_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("updated_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_impact_assessments_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impact_assessments")),
        sa.UniqueConstraint("deployment_id", name=op.f("uq_impact_assessments_deployment_id")),
    )
    op.create_table(
        "oversight_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_oversight_comments_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oversight_comments")),
    )
    with op.batch_alter_table("oversight_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oversight_comments_deployment_id"), ["deployment_id"], unique=False
        )

    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_sites_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sites_deployment_id"), ["deployment_id"], unique=False)

    op.create_table(
        "watchlists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("descriptor_model", sa.String(length=200), nullable=False),
        sa.Column("built_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("destroyed_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("category_counts", sa.JSON(), nullable=False),
        sa.Column("created_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_watchlists_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlists")),
        sa.UniqueConstraint("deployment_id", name=op.f("uq_watchlists_deployment_id")),
    )
    op.create_table(
        "consultation_responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("submitted_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["consultations.id"],
            name=op.f("fk_consultation_responses_consultation_id_consultations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consultation_responses")),
    )
    with op.batch_alter_table("consultation_responses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consultation_responses_consultation_id"),
            ["consultation_id"],
            unique=False,
        )

    op.create_table(
        "watchlist_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watchlist_id", sa.Integer(), nullable=False),
        sa.Column("subject_ref", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("authorised_by", sa.String(length=100), nullable=False),
        sa.Column("image_taken_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("descriptors_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("descriptor_count", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("added_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["watchlist_id"],
            ["watchlists.id"],
            name=op.f("fk_watchlist_entries_watchlist_id_watchlists"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watchlist_entries")),
    )
    with op.batch_alter_table("watchlist_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_watchlist_entries_watchlist_id"), ["watchlist_id"], unique=False
        )

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("alert_uid", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.Column("camera", sa.String(length=100), nullable=False),
        sa.Column("track_id", sa.String(length=100), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("entry_category", sa.String(length=64), nullable=False),
        sa.Column("adjudication", sa.String(length=32), nullable=False),
        sa.Column("adjudicated_by", sa.String(length=64), nullable=True),
        sa.Column("adjudicated_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("outcome_recorded_at", openlfr.storage.types.UTCDateTime(), nullable=True),
        sa.Column("demographic_group", sa.String(length=100), nullable=True),
        sa.Column("received_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_alerts_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["watchlist_entries.id"],
            name=op.f("fk_alerts_entry_id_watchlist_entries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("deployment_id", "alert_uid", name=op.f("uq_alerts_deployment_id")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alerts_deployment_id"), ["deployment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_deployment_id"))

    op.drop_table("alerts")
    with op.batch_alter_table("watchlist_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_watchlist_entries_watchlist_id"))

    op.drop_table("watchlist_entries")
    with op.batch_alter_table("consultation_responses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consultation_responses_consultation_id"))

    op.drop_table("consultation_responses")
    op.drop_table("watchlists")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_deployment_id"))

    op.drop_table("sites")
    with op.batch_alter_table("oversight_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oversight_comments_deployment_id"))

    op.drop_table("oversight_comments")
    op.drop_table("impact_assessments")
    with op.batch_alter_table("gate_overrides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gate_overrides_deployment_id"))

    op.drop_table("gate_overrides")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_deployment_id"))

    op.drop_table("feedback")
    with op.batch_alter_table("engagement_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_engagement_events_deployment_id"))

    op.drop_table("engagement_events")
    with op.batch_alter_table("counter_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_counter_batches_deployment_id"))

    op.drop_table("counter_batches")
    op.drop_table("consultations")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_deployment_id"))

    op.drop_table("api_keys")
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_sessions_user_id"))

    op.drop_table("login_sessions")
    with op.batch_alter_table("equity_audits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_equity_audits_technology_id"))

    op.drop_table("equity_audits")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployments_status"))

    op.drop_table("deployments")
    op.drop_table("users")
    op.drop_table("technologies")
    op.drop_table("council_motions")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
