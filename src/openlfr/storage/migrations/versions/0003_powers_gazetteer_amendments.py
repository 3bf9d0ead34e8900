"""Powers that check each other: councillors' areas, two-person overrides, amendments of
the frozen record, engagement evidence, and areas from the gazetteer.

Existing free-text areas are mapped to gazetteer codes where they name a known area;
where they do not, the record is flagged (deployments and subscriptions: ``area_flag``;
motions: ``unmatched_areas``) for staff to correct. A motion whose borough is known but
whose ward is not covers the whole borough until corrected (wider, never narrower).
Overrides recorded before countersignatures were required keep their single signature
(status ``single_signature``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 19:46:19.220970
"""

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import context, op

import openlfr.storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _gazetteer() -> Any:
    from openlfr.services.gazetteer import DEFAULT_GAZETTEER, load_gazetteer

    path = context.config.attributes.get("gazetteer_file") or DEFAULT_GAZETTEER
    return load_gazetteer(Path(path))


def _flag(what: str, exc: Exception) -> str:
    return f"migrated from free text: {what}: {exc}"


def upgrade() -> None:
    from openlfr.governance.areas import UnknownArea

    g = _gazetteer()
    conn = op.get_bind()

    op.create_table(
        "amendments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=False),
        sa.Column("record", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("gate_changes", sa.JSON(), nullable=False),
        sa.Column("status_before", sa.String(length=32), nullable=False),
        sa.Column("status_after", sa.String(length=32), nullable=False),
        sa.Column("made_by", sa.String(length=64), nullable=False),
        sa.Column("made_at", openlfr.storage.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["deployment_id"], ["deployments.id"],
                                name=op.f("fk_amendments_deployment_id_deployments"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amendments")),
        sa.UniqueConstraint("deployment_id", "record", "version",
                            name=op.f("uq_amendments_deployment_id")),
    )
    with op.batch_alter_table("amendments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_amendments_deployment_id"), ["deployment_id"],
                              unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("areas", sa.JSON(), server_default="[]", nullable=False))

    with op.batch_alter_table("engagement_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("met_with", sa.String(length=200), server_default="",
                                      nullable=False))
        batch_op.add_column(sa.Column("evidence_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("evidence_pdf", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("evidence_filename", sa.String(length=200),
                                      nullable=True))

    with op.batch_alter_table("gate_overrides", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=32),
                                      server_default="single_signature", nullable=False))
        batch_op.add_column(sa.Column("countersigned_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("countersigned_at", openlfr.storage.types.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column("countersignature", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("closed_at", openlfr.storage.types.UTCDateTime(),
                                      nullable=True))
        batch_op.add_column(sa.Column("closed_reason", sa.Text(), nullable=True))

    # --- deployments: free-text borough and ward -> gazetteer codes ----------------------
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("borough_code", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("ward_code", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("area_flag", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_deployments_borough_code"), ["borough_code"],
                              unique=False)
    deployments = sa.table("deployments", sa.column("id", sa.Integer),
                           sa.column("borough", sa.String), sa.column("ward", sa.String),
                           sa.column("borough_code", sa.String),
                           sa.column("ward_code", sa.String), sa.column("area_flag", sa.Text))
    for row in conn.execute(sa.select(deployments.c.id, deployments.c.borough,
                                      deployments.c.ward)).all():
        values: dict[str, Any] = {}
        try:
            borough = g.borough(row.borough)
        except UnknownArea as exc:
            values["area_flag"] = _flag("borough", exc)
        else:
            values.update(borough=borough.name, borough_code=borough.code)
            if row.ward:
                try:
                    ward = g.ward(borough, row.ward)
                except UnknownArea as exc:
                    values["area_flag"] = _flag("ward", exc)
                else:
                    values.update(ward=ward.name, ward_code=ward.code)
        conn.execute(deployments.update().where(deployments.c.id == row.id).values(**values))

    # --- council motions: "Borough" / "Borough/Ward" text -> codes ---------------------------
    with op.batch_alter_table("council_motions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("area_codes", sa.JSON(), server_default="[]",
                                      nullable=False))
        batch_op.add_column(sa.Column("unmatched_areas", sa.JSON(), server_default="[]",
                                      nullable=False))
        batch_op.add_column(sa.Column("points", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("point_answers", sa.JSON(), server_default="[]",
                                      nullable=False))
    motions = sa.table("council_motions", sa.column("id", sa.Integer),
                       sa.column("areas", sa.JSON), sa.column("area_codes", sa.JSON),
                       sa.column("unmatched_areas", sa.JSON))
    for motion in conn.execute(sa.select(motions.c.id, motions.c.areas)).all():
        codes: list[str] = []
        unmatched: list[str] = []
        for text in motion.areas or []:
            try:
                codes.append(g.resolve(text).code)
            except UnknownArea:
                unmatched.append(text)
                # The borough is known: cover all of it until the ward is corrected.
                with contextlib.suppress(UnknownArea):
                    codes.append(g.borough(text.partition("/")[0]).code)
        conn.execute(motions.update().where(motions.c.id == motion.id).values(
            area_codes=list(dict.fromkeys(codes)), unmatched_areas=unmatched))
    with op.batch_alter_table("council_motions", schema=None) as batch_op:
        batch_op.alter_column("area_codes", server_default=None)
        batch_op.drop_column("areas")

    # --- subscriptions: area slugs -> codes ---------------------------------------------------
    with op.batch_alter_table("notice_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("area_code", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("area_flag", sa.Text(), nullable=True))
    subs = sa.table("notice_subscriptions", sa.column("id", sa.Integer),
                    sa.column("email", sa.String), sa.column("area_slug", sa.String),
                    sa.column("area_code", sa.String), sa.column("area_flag", sa.Text))
    taken: set[tuple[str, str]] = set()
    rows = conn.execute(sa.select(subs.c.id, subs.c.email, subs.c.area_slug)
                        .order_by(subs.c.id)).all()
    for sub in rows:
        code, flag = sub.area_slug, None
        if g.get(sub.area_slug) is None:
            text = sub.area_slug.replace("--", "/").replace("-", " ")
            try:
                code = g.resolve(text).code
            except UnknownArea as exc:
                flag = _flag("area", exc)
        if (sub.email, code) in taken:
            code, flag = sub.area_slug, f"the same address already subscribes to {code}"
        taken.add((sub.email, code))
        conn.execute(subs.update().where(subs.c.id == sub.id).values(area_code=code,
                                                                      area_flag=flag))
    with op.batch_alter_table("notice_subscriptions", schema=None) as batch_op:
        batch_op.alter_column("area_code", existing_type=sa.String(length=200),
                              nullable=False)
        batch_op.drop_index(batch_op.f("ix_notice_subscriptions_area_slug"))
        batch_op.drop_constraint(batch_op.f("uq_notice_subscriptions_email"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_notice_subscriptions_email"),
                                          ["email", "area_code"])
        batch_op.create_index(batch_op.f("ix_notice_subscriptions_area_code"), ["area_code"],
                              unique=False)
        batch_op.drop_column("area_slug")


def downgrade() -> None:
    with op.batch_alter_table("notice_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("area_slug", sa.String(length=200), nullable=True))
    op.execute("UPDATE notice_subscriptions SET area_slug = area_code")
    with op.batch_alter_table("notice_subscriptions", schema=None) as batch_op:
        batch_op.alter_column("area_slug", existing_type=sa.String(length=200),
                              nullable=False)
        batch_op.drop_index(batch_op.f("ix_notice_subscriptions_area_code"))
        batch_op.drop_constraint(batch_op.f("uq_notice_subscriptions_email"), type_="unique")
        batch_op.create_unique_constraint(batch_op.f("uq_notice_subscriptions_email"),
                                          ["email", "area_slug"])
        batch_op.create_index(batch_op.f("ix_notice_subscriptions_area_slug"), ["area_slug"],
                              unique=False)
        batch_op.drop_column("area_flag")
        batch_op.drop_column("area_code")

    g = _gazetteer()
    with op.batch_alter_table("council_motions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("areas", sa.JSON(), server_default="[]", nullable=False))
    conn = op.get_bind()
    motions = sa.table("council_motions", sa.column("id", sa.Integer),
                       sa.column("areas", sa.JSON), sa.column("area_codes", sa.JSON),
                       sa.column("unmatched_areas", sa.JSON))
    for motion in conn.execute(sa.select(motions.c.id, motions.c.area_codes,
                                         motions.c.unmatched_areas)).all():
        texts = [g.label(c).replace(" / ", "/") for c in motion.area_codes or []]
        conn.execute(motions.update().where(motions.c.id == motion.id).values(
            areas=texts + list(motion.unmatched_areas or [])))
    with op.batch_alter_table("council_motions", schema=None) as batch_op:
        batch_op.alter_column("areas", server_default=None)
        batch_op.drop_column("point_answers")
        batch_op.drop_column("points")
        batch_op.drop_column("unmatched_areas")
        batch_op.drop_column("area_codes")

    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployments_borough_code"))
        batch_op.drop_column("area_flag")
        batch_op.drop_column("ward_code")
        batch_op.drop_column("borough_code")

    with op.batch_alter_table("gate_overrides", schema=None) as batch_op:
        for column in ("closed_reason", "closed_at", "countersignature", "countersigned_at",
                       "countersigned_by", "status"):
            batch_op.drop_column(column)

    with op.batch_alter_table("engagement_events", schema=None) as batch_op:
        for column in ("evidence_filename", "evidence_pdf", "evidence_url", "met_with"):
            batch_op.drop_column(column)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("areas")

    with op.batch_alter_table("amendments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_amendments_deployment_id"))
    op.drop_table("amendments")
