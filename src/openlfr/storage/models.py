"""SQLAlchemy tables. The schema itself is created by the Alembic migrations in
``openlfr/storage/migrations``; these classes must stay in step with them (a test
compares the two)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from openlfr.storage.types import UTCDateTime

# Explicit constraint names so migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


# --- people and machines -------------------------------------------------------------

class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    # A councillor's areas (gazetteer codes); empty for every other role.
    areas: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    # A change waiting for its countersignature (services.users): the fields it sets
    # ("role", "areas", "active", "password_hash"), its "id", "requested_by" and
    # "requested_at". SQL NULL when none waits.
    held_change: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True),
                                                               default=None)
    # Set while the password is one someone else chose: the SHA-256 of the code the
    # countersigner was given, which the first login needs with a new password of the
    # person's own ("" from a new account until it is countersigned and the code given).
    first_login_code_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # Who chose the password in force while it waits for its first login (the one who
    # asked for the account or the reset): they may not also be given the code
    # (services.users.countersign_change). None once the person chose their own.
    password_set_by: Mapped[str | None] = mapped_column(String(64), default=None)


class LoginSession(Base):
    """A person's login. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    user: Mapped[User] = relationship()


class ApiKey(Base):
    """An engine node's key. Keys are long random tokens, so SHA-256 is enough to store them."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(32))
    deployment_id: Mapped[int | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # When the key last authenticated a request (kept to the minute: admin pages show it).
    last_used_at: Mapped[datetime | None]
    # A node key works once an operator, another person than the authoriser who issued it,
    # confirms it (services.users.confirm_api_key); other keys are confirmed as issued.
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    confirmed_by: Mapped[str | None] = mapped_column(String(64), default=None)


# --- technology and audits -------------------------------------------------------------

class Technology(Base):
    """A technology register entry: one engine setup."""

    __tablename__ = "technologies"
    id: Mapped[int] = mapped_column(primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(200))
    vendor_or_project: Mapped[str] = mapped_column(String(200))
    default_threshold: Mapped[float] = mapped_column(Float)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    # The Algorithmic Transparency Recording Standard's fields people write
    # (services.atrs.AtrsFields); the engine's own facts are the columns above and audits.
    atrs: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # Every edit publishes a new version (technology_versions keeps each as it was).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[datetime | None]


class TechnologyVersion(Base):
    """A register entry as published at one version, with why it changed and who changed it."""

    __tablename__ = "technology_versions"
    __table_args__ = (UniqueConstraint("technology_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    technology_id: Mapped[int] = mapped_column(
        ForeignKey("technologies.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]]
    reason: Mapped[str] = mapped_column(Text)
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime]


class EquityAudit(Base):
    __tablename__ = "equity_audits"
    id: Mapped[int] = mapped_column(primary_key=True)
    technology_id: Mapped[int] = mapped_column(
        ForeignKey("technologies.id", ondelete="CASCADE"), index=True)
    conducted_on: Mapped[date] = mapped_column(Date)
    dataset: Mapped[str] = mapped_column(String(300))
    engine_version: Mapped[str] = mapped_column(String(200))
    # The second opinion's model when the audited engine decided with one (None: alone);
    # its figures then hold only for watchlists that decide the same way.
    second_opinion_model: Mapped[str | None] = mapped_column(String(200))
    thresholds_swept: Mapped[list[Any]]
    group_results: Mapped[list[Any]]
    # Overall TPIR/FPIR per watchlist size and threshold (what the threshold gate reads).
    identification: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    recommended_threshold: Mapped[float] = mapped_column(Float)
    fair_threshold: Mapped[float] = mapped_column(Float)
    summary: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


# --- deployments and their governance records -------------------------------------------

class Deployment(Base):
    __tablename__ = "deployments"
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    # The area as the gazetteer names it, and its codes (what motions, feeds,
    # subscriptions and figures match on). A code is None only for a legacy free-text
    # area that matched no gazetteer name; ``area_flag`` then says so.
    borough: Mapped[str] = mapped_column(String(100))
    ward: Mapped[str | None] = mapped_column(String(100))
    borough_code: Mapped[str | None] = mapped_column(String(100), index=True)
    ward_code: Mapped[str | None] = mapped_column(String(200))
    area_flag: Mapped[str | None] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(Text)
    offence_categories: Mapped[list[Any]]
    intelligence_basis: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    threshold: Mapped[float] = mapped_column(Float)
    camera_count: Mapped[int] = mapped_column(Integer)
    signage: Mapped[str] = mapped_column(Text)
    start_at: Mapped[datetime]
    end_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(32), index=True)
    technology_id: Mapped[int | None] = mapped_column(
        ForeignKey("technologies.id", ondelete="SET NULL"))
    notice_published_at: Mapped[datetime | None]
    authorised_at: Mapped[datetime | None]
    # When it was first authorised: set once, never cleared (an authorisation withdrawn by
    # an amendment or a reschedule clears ``authorised_at``). From then on the record
    # changes only by amendment (``governance.amendments.is_frozen``).
    first_authorised_at: Mapped[datetime | None]
    activated_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # Set when published dates are changed (the notice period then runs again from then).
    rescheduled_at: Mapped[datetime | None]
    review_summary: Mapped[str | None] = mapped_column(Text)
    # The gate results as they stood when it was authorised and when it was activated:
    # what the decision was based on, kept after the records change (e.g. the watchlist
    # is destroyed). {"authorise": {"at": iso, "results": [{name, passed, reason}]}, ...}
    gate_snapshots: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    sites: Mapped[list[Site]] = relationship(
        cascade="all, delete-orphan", order_by="Site.id", lazy="selectin")


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    # Where people find it: the street and the postcode (optional for older sites).
    street: Mapped[str | None] = mapped_column(String(200))
    postcode: Mapped[str | None] = mapped_column(String(10))


class ImpactAssessment(Base):
    __tablename__ = "impact_assessments"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), unique=True)
    area_profile: Mapped[str] = mapped_column(Text, default="")
    risks: Mapped[str] = mapped_column(Text, default="")
    mitigations: Mapped[str] = mapped_column(Text, default="")
    equality_impact: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class EngagementEvent(Base):
    __tablename__ = "engagement_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    format: Mapped[str] = mapped_column(String(32))
    audience: Mapped[str] = mapped_column(String(32))
    attendees: Mapped[int] = mapped_column(Integer)
    materials: Mapped[str] = mapped_column(Text, default="")
    questions_raised: Mapped[list[Any]]
    created_at: Mapped[datetime]
    # The body or group met (published), and optional evidence: a link to minutes or a
    # sign-in sheet, or the PDF itself (published).
    met_with: Mapped[str] = mapped_column(String(200), default="", server_default="")
    evidence_url: Mapped[str | None] = mapped_column(String(500))
    evidence_pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    evidence_filename: Mapped[str | None] = mapped_column(String(200))
    # The SHA-256 (hex) of the PDF as first published, the plain upload (published), so
    # anyone who kept it can check it is the one a redacted copy replaced.
    evidence_first_sha256: Mapped[str | None] = mapped_column(String(64))
    # What became of the PDF for privacy (at any status: nothing else of a frozen event
    # changes): "redacted" or "removed" (services.assessments.EvidenceRedaction). It is
    # replaced by a redacted copy at most once (reason, when, by whom, and the copy's
    # SHA-256), and may be removed, then or later (reason, when, by whom); each published.
    evidence_redaction: Mapped[str | None] = mapped_column(String(16))
    evidence_redaction_reason: Mapped[str | None] = mapped_column(Text)
    evidence_redacted_at: Mapped[datetime | None]
    evidence_redacted_by: Mapped[str | None] = mapped_column(String(64))
    evidence_redacted_sha256: Mapped[str | None] = mapped_column(String(64))
    evidence_removal_reason: Mapped[str | None] = mapped_column(Text)
    evidence_removed_at: Mapped[datetime | None]
    evidence_removed_by: Mapped[str | None] = mapped_column(String(64))


class Consultation(Base):
    __tablename__ = "consultations"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), unique=True)
    benefits: Mapped[str] = mapped_column(Text)
    risks: Mapped[str] = mapped_column(Text)
    questions: Mapped[list[Any]]
    status: Mapped[str] = mapped_column(String(16))
    # Where a wording flag is kept on purpose, the planner's published reason:
    # {"q2": {"reason": "...", "by": "planner", "at": iso}, "information_sheet": {...}}
    wording_exceptions: Mapped[dict[str, Any]] = mapped_column(default=dict,
                                                               server_default="{}")
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class ConsultationResponse(Base):
    """An anonymous answer to a consultation: no name, no contact, no address."""

    __tablename__ = "consultation_responses"
    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("consultations.id", ondelete="CASCADE"), index=True)
    answers: Mapped[dict[str, Any]]
    # Optional and coarse on purpose (e.g. "SE11"): where responses come from, not who.
    postcode_district: Mapped[str | None] = mapped_column(String(8))
    submitted_at: Mapped[datetime]


class Feedback(Base):
    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(300))  # never shown publicly
    submitted_at: Mapped[datetime]
    answer_due_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(64))
    hidden_for_abuse: Mapped[bool] = mapped_column(Boolean, default=False)
    moderation_reason: Mapped[str | None] = mapped_column(Text)
    moderated_at: Mapped[datetime | None]
    moderated_by: Mapped[str | None] = mapped_column(String(64))
    # What came of it (governance.answers.AnswerOutcome) and, for a plan change, the
    # amendment that made it.
    outcome: Mapped[str | None] = mapped_column(String(32))
    amendment_id: Mapped[int | None] = mapped_column(
        ForeignKey("amendments.id", ondelete="SET NULL"))
    # The author's private link (reply once, escalate); never public.
    author_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None]
    # Escalated to oversight (after a reply, or unanswered past the deadline), and
    # oversight's published response.
    escalated_at: Mapped[datetime | None]
    escalation: Mapped[str | None] = mapped_column(Text)
    oversight_response: Mapped[str | None] = mapped_column(Text)
    oversight_responded_at: Mapped[datetime | None]
    oversight_responded_by: Mapped[str | None] = mapped_column(String(64))
    # Earlier published versions of the answer and of oversight's response, oldest first,
    # each with when and by whom it was published and when, by whom and why it was
    # replaced (services.answer_history.AnswerVersion): a revision never loses what was
    # published.
    answer_history: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    oversight_response_history: Mapped[list[Any]] = mapped_column(default=list,
                                                                  server_default="[]")


class FeedbackFollow(Base):
    """Someone following a piece of feedback by e-mail: active once the address is
    confirmed (double opt-in); told when it is answered, escalated or responded to."""

    __tablename__ = "feedback_follows"
    __table_args__ = (UniqueConstraint("feedback_id", "email"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    feedback_id: Mapped[int] = mapped_column(
        ForeignKey("feedback.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))  # never public
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]


class CollectiveObjection(Base):
    """An objection residents of an area co-sign (no names published). Filed for an area;
    while no deployment there is open to objections it stands, and attaches to the next
    one proposed there. Past the threshold of confirmed signatures it needs an oversight
    hearing, recorded and published, before that deployment can be authorised."""

    __tablename__ = "collective_objections"
    id: Mapped[int] = mapped_column(primary_key=True)
    area_code: Mapped[str] = mapped_column(String(200), index=True)
    deployment_id: Mapped[int | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="SET NULL"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    attached_at: Mapped[datetime | None]
    hearing_held_on: Mapped[date | None] = mapped_column(Date)
    hearing_record: Mapped[str | None] = mapped_column(Text)
    hearing_recorded_by: Mapped[str | None] = mapped_column(String(64))
    hearing_recorded_at: Mapped[datetime | None]
    # Public from the moment its starter confirmed their own signature (the first one):
    # until then nobody has vouched for the words, and nobody sees or co-signs them.
    published_at: Mapped[datetime | None]
    # Its text withheld for abuse, as feedback's is (the reason is published in its place;
    # the objection, its signatures and its hearing requirement stay).
    hidden_for_abuse: Mapped[bool] = mapped_column(Boolean, default=False,
                                                   server_default=false())
    moderation_reason: Mapped[str | None] = mapped_column(Text)
    moderated_at: Mapped[datetime | None]
    moderated_by: Mapped[str | None] = mapped_column(String(64))


class CollectiveSignature(Base):
    """One e-mail address's signature of a collective objection: counted once confirmed
    (double opt-in); the address is never published."""

    __tablename__ = "collective_signatures"
    __table_args__ = (UniqueConstraint("objection_id", "email"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    objection_id: Mapped[int] = mapped_column(
        ForeignKey("collective_objections.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))  # never public
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]


class CouncilMotion(Base):
    __tablename__ = "council_motions"
    id: Mapped[int] = mapped_column(primary_key=True)
    body: Mapped[str] = mapped_column(String(200))
    passed_on: Mapped[date] = mapped_column(Date)
    stance: Mapped[str] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    # Gazetteer codes of the areas covered; legacy free-text areas that matched no name
    # are kept in unmatched_areas (they cover nothing until corrected).
    area_codes: Mapped[list[Any]]
    unmatched_areas: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    # What the motion resolves or asks, point by point, and the force's answer to each.
    points: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    point_answers: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    response: Mapped[str | None] = mapped_column(Text)
    response_published_at: Mapped[datetime | None]
    response_published_by: Mapped[str | None] = mapped_column(String(64))
    # Earlier published versions of the response and its point answers, oldest first
    # (services.answer_history.AnswerVersion).
    response_history: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    recorded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class OversightComment(Base):
    """A formal comment on a deployment by an oversight member; published."""

    __tablename__ = "oversight_comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class GateOverride(Base):
    """A decision to go ahead despite failing gates, taken by two people: an authoriser
    asks (``recorded_by``, ``justification``) and a member of oversight countersigns.
    Published with the deployment once countersigned."""

    __tablename__ = "gate_overrides"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    transition: Mapped[str] = mapped_column(String(32))
    failing_gates: Mapped[list[Any]]
    justification: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]
    # governance.overrides.OverrideStatus; rows from before countersignatures were
    # required are single_signature.
    status: Mapped[str] = mapped_column(String(32), server_default="single_signature")
    countersigned_by: Mapped[str | None] = mapped_column(String(64))
    countersigned_at: Mapped[datetime | None]
    countersignature: Mapped[str | None] = mapped_column(Text)
    # When it stopped being awaited or in force (superseded or lapsed), and why.
    closed_at: Mapped[datetime | None]
    closed_reason: Mapped[str | None] = mapped_column(Text)


class Amendment(Base):
    """A change to a deployment's frozen record (plan, assessment, engagement log): a new
    version of that record with a published reason, what changed, and which gates'
    answers the change moved."""

    __tablename__ = "amendments"
    __table_args__ = (UniqueConstraint("deployment_id", "record", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    record: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    # [{"field", "before", "after"}]
    changes: Mapped[list[Any]]
    # [{"name", "passed_before", "passed_after"}]
    gate_changes: Mapped[list[Any]]
    status_before: Mapped[str] = mapped_column(String(32))
    status_after: Mapped[str] = mapped_column(String(32))
    made_by: Mapped[str] = mapped_column(String(64))
    made_at: Mapped[datetime]


# --- watchlists, alerts, counters ----------------------------------------------------------

class Watchlist(Base):
    __tablename__ = "watchlists"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), unique=True)
    descriptor_model: Mapped[str] = mapped_column(String(200))
    # The second opinion's model (matcher.py) when the watchlist decides with one: every
    # entry then carries that network's descriptors too, and nodes ask it about doubtful
    # scores. None: the engine decides alone.
    reference_model: Mapped[str | None] = mapped_column(String(200))
    built_at: Mapped[datetime | None]
    destroyed_at: Mapped[datetime | None]
    # Counts by category kept after destruction: the only watchlist figures ever public.
    category_counts: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class WatchlistEntry(Base):
    __tablename__ = "watchlist_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    watchlist_id: Mapped[int] = mapped_column(
        ForeignKey("watchlists.id", ondelete="CASCADE"), index=True)
    subject_ref: Mapped[str] = mapped_column(String(100))  # never public
    category: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200))
    authorised_by: Mapped[str] = mapped_column(String(100))
    image_taken_on: Mapped[date] = mapped_column(Date)
    expires_on: Mapped[date | None] = mapped_column(Date)
    descriptors_encrypted: Mapped[bytes] = mapped_column(LargeBinary)  # Fernet token
    descriptor_count: Mapped[int] = mapped_column(Integer)
    # The second opinion's descriptor of each photo (Fernet token), on a watchlist with a
    # reference model only.
    references_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The reference photo an operator compares the probe with (JPEG, Fernet token);
    # destroyed with the watchlist.
    image_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime]


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("deployment_id", "alert_uid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    alert_uid: Mapped[str] = mapped_column(String(64))  # the node's id: retries are idempotent
    occurred_at: Mapped[datetime]
    camera: Mapped[str] = mapped_column(String(100))
    track_id: Mapped[str] = mapped_column(String(100))
    score: Mapped[float] = mapped_column(Float)
    # The engine's score alone was below the threshold: the second opinion (a watchlist
    # that decides with one) agreed and lifted it. Operators see it beside the score.
    second_opinion: Mapped[bool] = mapped_column(Boolean, default=False,
                                                 server_default=false())
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("watchlist_entries.id", ondelete="SET NULL"))
    entry_category: Mapped[str] = mapped_column(String(64))
    adjudication: Mapped[str] = mapped_column(String(32))
    adjudicated_by: Mapped[str | None] = mapped_column(String(64))
    adjudicated_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    outcome_recorded_at: Mapped[datetime | None]
    # What followed an arrest (governance.records.LaterOutcome: charged, cautioned, ...),
    # recorded within OPENLFR_LATER_OUTCOME_WINDOW_DAYS of the alert.
    later_outcome: Mapped[str | None] = mapped_column(String(32))
    later_outcome_recorded_at: Mapped[datetime | None]
    later_outcome_recorded_by: Mapped[str | None] = mapped_column(String(64))
    demographic_group: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime]
    # The aligned face that raised the alert (JPEG, Fernet token), kept only until
    # probe_crop_retention_hours after the alert; then deleted and the deletion audited.
    probe_crop_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    probe_crop_purged_at: Mapped[datetime | None]
    # The node key that delivered it (api_keys.id; keys are revoked, never deleted): a key
    # found leaked or misused shows what it sent. None: recorded before keys were noted.
    api_key_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)

    @property
    def has_probe_crop(self) -> bool:
        return self.probe_crop_encrypted is not None


class CounterBatch(Base):
    """Counts a node reports in one batch; the batch id makes a retried upload count once."""

    __tablename__ = "counter_batches"
    __table_args__ = (UniqueConstraint("deployment_id", "batch_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    batch_id: Mapped[str] = mapped_column(String(64))
    faces_seen: Mapped[int] = mapped_column(Integer)
    tracks: Mapped[int] = mapped_column(Integer)
    frames_processed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    frames_dropped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    frames_near_behind: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The span of time the counts cover (node clock); months are counted by period_end.
    period_start: Mapped[datetime | None]
    period_end: Mapped[datetime | None]
    received_at: Mapped[datetime]
    # The node key that delivered it, as on an alert (``Alert.api_key_id``).
    api_key_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)


class FigureTally(Base):
    """A running total behind the published figures: one count (``name``) of one deployment
    on one day (UTC), kept up to date by the use case that records an alert, an
    adjudication, an outcome or a counter batch, in the same transaction. Pages, downloads,
    reports and consoles add these up instead of rescanning every alert and batch; a test
    checks them against a full recount (``services.figures``)."""

    __tablename__ = "figure_tallies"
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class FigureMonthTally(Base):
    """The same running totals summed over a calendar month ("YYYY-MM", UTC), written with
    the day's in the same statement batch: figures by month read a few rows per month
    whatever the number of days a deployment ran; a period that starts or ends within a
    month adds that month's days from ``FigureTally``."""

    __tablename__ = "figure_month_tallies"
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class DeploymentReview(Base):
    """A published post-deployment review: the figures and record as they stood when it
    was generated. Regenerated (a new version) when the record changes after completion."""

    __tablename__ = "deployment_reviews"
    __table_args__ = (UniqueConstraint("deployment_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(200))
    content: Mapped[dict[str, Any]]
    generated_at: Mapped[datetime]


# --- notice by e-mail ------------------------------------------------------------------

class NoticeSubscription(Base):
    """A person's request for e-mail notice of deployments in an area. Active once the
    address is confirmed (double opt-in); the token is in every e-mail's unsubscribe link."""

    __tablename__ = "notice_subscriptions"
    __table_args__ = (UniqueConstraint("email", "area_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))  # never public
    # The gazetteer code of the area (a legacy one that matched no area keeps its old
    # name, with area_flag saying so).
    area_code: Mapped[str] = mapped_column(String(200), index=True)
    area_flag: Mapped[str | None] = mapped_column(Text)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]


class OutgoingEmail(Base):
    """An e-mail waiting to be sent (an outbox: written in the same transaction as the
    change it announces, so nothing is lost when the mail server is down)."""

    __tablename__ = "outgoing_emails"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    # The subscription it is for (its unsubscribe link; pending mail goes when it ends).
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("notice_subscriptions.id", ondelete="CASCADE"), index=True)


# --- audit chain -------------------------------------------------------------------------

class AuditEvent(Base):
    """One link of the hash chain. Rows are only ever inserted, never updated."""

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[str] = mapped_column(String(40))  # ISO text: hashed exactly as stored
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(100))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """A single row naming the chain's last link. Appenders lock it, so two transactions
    can never both extend the chain from the same link."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
