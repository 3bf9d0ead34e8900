"""Response bodies. Staff and public views are separate models, so a personal field
(subject reference, feedback contact) cannot reach a public route by accident: the
public models simply do not have it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from openlfr.governance.amendments import notice_restarted, widened_by


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Problem(BaseModel):
    """An error: ``detail`` says what went wrong and what to do."""

    detail: str


class GateOut(Out):
    name: str
    passed: bool
    reason: str
    override_refusal: str | None = Field(
        default=None, description="Why this failure can never be overridden; null when an "
        "override (two signatures) may set it aside.")


class GateDecisionOut(BaseModel):
    """The gates as they stood at one decision (``basis``: "authorise" or "activate")."""

    basis: str
    evaluated_at: datetime
    gates: list[GateOut]


class GateRefusal(BaseModel):
    """409 from authorise/activate: the gates that failed and why."""

    detail: str
    failing_gates: list[GateOut]


class GateReportOut(BaseModel):
    all_passed: bool
    gates: list[GateOut]
    #: The gates as they stood at each decision taken (authorisation, activation): once a
    #: deployment is completed, these are its checklist, not ``gates`` run again now.
    decisions: list[GateDecisionOut] = []


class SiteOut(Out):
    name: str
    lat: float
    lon: float
    street: str | None = None
    postcode: str | None = None


class OverrideOut(Out):
    """An override: asked for by an authoriser (``recorded_by``, ``justification``),
    countersigned by a member of oversight (``countersigned_by``, ``countersignature``)."""

    id: int
    transition: str
    failing_gates: list[dict[str, Any]]
    justification: str
    recorded_by: str
    recorded_at: datetime
    status: str = Field(description="awaiting_countersignature, in_force, superseded, "
                        "lapsed, or single_signature (recorded alone before "
                        "countersignatures were required).")
    countersigned_by: str | None = None
    countersigned_at: datetime | None = None
    countersignature: str | None = None
    closed_at: datetime | None = None
    closed_reason: str | None = None


class DeploymentOut(Out):
    """Staff view of a deployment."""

    id: int
    reference: str
    title: str
    borough: str
    ward: str | None
    borough_code: str | None = Field(description="The gazetteer's code of the borough (null "
                                     "only for a legacy area that matched no known name).")
    ward_code: str | None = None
    area_flag: str | None = Field(default=None, description="Why a legacy free-text area "
                                  "could not be matched to the gazetteer, if it could not.")
    sites: list[SiteOut]
    start_at: datetime
    end_at: datetime
    purpose: str
    offence_categories: list[str]
    intelligence_basis: str
    legal_basis: str
    threshold: float
    camera_count: int
    signage: str
    status: str
    technology_id: int | None
    notice_published_at: datetime | None
    authorised_at: datetime | None
    activated_at: datetime | None
    completed_at: datetime | None
    reviewed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    review_summary: str | None
    rescheduled_at: datetime | None = None
    created_by: str
    created_at: datetime
    updated_at: datetime


class TransitionOut(BaseModel):
    deployment: DeploymentOut
    gates: list[GateOut] | None = None
    override: OverrideOut | None = None


class CommentOut(Out):
    id: int
    author: str
    body: str
    created_at: datetime


class FindingOut(Out):
    section: str
    problem: str


class AssessmentOut(BaseModel):
    deployment_id: int
    area_profile: str
    engagement_summary: str
    consultation_findings: str
    risks: str
    mitigations: str
    equality_impact: str
    decision: str
    complete: bool
    findings: list[FindingOut]
    published_at: datetime | None
    updated_at: datetime | None


class EngagementEventOut(Out):
    id: int
    held_on: date
    format: str
    audience: str
    met_with: str
    attendees: int
    materials: str
    questions_raised: list[str]
    evidence_url: str | None = None
    evidence_filename: str | None = Field(
        default=None, description="The PDF evidence attached, if any (published).")
    evidence_first_sha256: str | None = Field(
        default=None, description="SHA-256 (hex) of the PDF as first published, so anyone "
        "who kept it can check it is the one a redacted copy replaced.")
    evidence_redaction: Literal["redacted", "removed"] | None = Field(
        default=None, description="What became of the PDF for privacy: replaced by a "
        "redacted copy (once), or removed (perhaps after a redaction).")
    evidence_redaction_reason: str | None = Field(
        default=None, description="Why the PDF was replaced by a redacted copy.")
    evidence_redacted_at: datetime | None = None
    evidence_redacted_sha256: str | None = Field(
        default=None, description="SHA-256 (hex) of the redacted copy that replaced it "
        "(published since, unless removed).")
    evidence_removal_reason: str | None = Field(
        default=None, description="Why the PDF (or its redacted copy) was removed.")
    evidence_removed_at: datetime | None = None


class QuestionOut(BaseModel):
    id: str
    text: str
    options: list[str] | None


class WordingIssueOut(BaseModel):
    """A flag from the leading-wording check: where, what, why and a neutral alternative."""

    where: str
    excerpt: str
    problem: str
    suggestion: str = ""
    #: The rule that raised it (see openlfr.governance.wording.RULES).
    rule: str = ""
    #: True when a recorded reason keeps this wording on purpose.
    kept: bool = False


class KeptWordingOut(BaseModel):
    """Flagged wording kept on purpose, the planner's published reason, and the member of
    oversight's countersignature (needed before the consultation opens)."""

    where: str
    reason: str
    recorded_by: str
    recorded_at: datetime
    flags: list[WordingIssueOut]
    countersigned_by: str | None = None
    countersignature: str | None = None


class ConsultationOut(Out):
    id: int
    deployment_id: int
    benefits: str
    risks: str
    questions: list[QuestionOut]
    status: str
    opened_at: datetime | None
    closed_at: datetime | None
    kept_wording: list[KeptWordingOut] = Field(default_factory=list)


class WordingExceptionOut(BaseModel):
    """A recorded reason; ``in_force`` is false when the wording it was given for is no
    longer flagged (then it is ignored and not published)."""

    where: str
    reason: str
    recorded_by: str
    recorded_at: datetime
    rules: list[str]
    in_force: bool


class ConsultationStaffOut(ConsultationOut):
    wording_issues: list[WordingIssueOut]
    wording_exceptions: list[WordingExceptionOut] = Field(default_factory=list)


class ConsultationResultsOut(BaseModel):
    responses: int
    tallies: dict[str, dict[str, int]]
    #: Responses by postcode district (those who gave one): who was reached.
    by_district: dict[str, int] = Field(default_factory=dict)
    #: "Insufficient response": why the result does not count (open too briefly, too few
    #: responses); None when it counts.
    insufficient: str | None = None


class AnswerVersionOut(Out):
    """An earlier published version of an answer (``services.answer_history``): what it
    said, when and by whom it was published, and when, by whom and why it was replaced."""

    text: str | None = Field(description="What it said (null where the item is kept "
                             "private: a redress request).")
    published_at: datetime
    published_by: str | None
    revised_at: datetime
    revised_by: str
    reason: str | None = Field(description="Why it was replaced (null where the item is "
                               "kept private).")
    outcome: str | None = None
    amendment_id: int | None = None
    point_answers: list[str] = []


class FeedbackStaffOut(Out):
    id: int
    deployment_id: int
    kind: str
    text: str
    contact: str | None
    submitted_at: datetime
    answer_due_at: datetime
    answer: str | None
    answered_at: datetime | None
    answered_by: str | None
    hidden_for_abuse: bool
    moderation_reason: str | None
    moderated_at: datetime | None = None
    moderated_by: str | None = None
    outcome: str | None = None
    amendment_id: int | None = None
    reply: str | None = None
    replied_at: datetime | None = None
    escalated_at: datetime | None = None
    escalation: str | None = None
    oversight_response: str | None = None
    oversight_responded_at: datetime | None = None
    #: Earlier versions of the answer and of oversight's response, oldest first.
    answer_history: list[AnswerVersionOut] = []
    oversight_response_history: list[AnswerVersionOut] = []


class FeedbackPublicOut(BaseModel):
    """Feedback as the public sees it: no contact details, abusive text withheld."""

    id: int
    kind: str
    text: str | None
    submitted_at: datetime
    answer_due_at: datetime
    answer: str | None
    answered_at: datetime | None
    overdue: bool
    hidden_for_abuse: bool
    #: The public trace of moderation: why and when the text was withheld.
    moderation_reason: str | None = None
    moderated_at: datetime | None = None
    #: What came of it: upheld, plan_changed (with the amendment), partly_upheld,
    #: not_upheld; answered for a question.
    outcome: str | None = None
    amendment_id: int | None = None
    #: A redress request: its text and answer stay with staff and oversight.
    private: bool = False
    reply: str | None = None
    replied_at: datetime | None = None
    escalated_at: datetime | None = None
    oversight_response: str | None = None
    oversight_responded_at: datetime | None = None
    #: The answer and oversight's response were revised: their earlier versions, oldest
    #: first, each with why it was replaced (empty: never revised).
    answer_history: list[AnswerVersionOut] = []
    oversight_response_history: list[AnswerVersionOut] = []


class FeedbackReceipt(BaseModel):
    id: int
    answer_due_at: datetime
    message: str
    #: The author's private page (keep it): reply once to the answer, or escalate.
    private_link: str | None = None


class AreaOut(BaseModel):
    """An area of the gazetteer: its code and the name people read."""

    code: str
    name: str


class MotionOut(BaseModel):
    id: int
    body: str
    passed_on: date
    stance: str
    summary: str
    link: str | None
    areas: list[AreaOut]
    unmatched_areas: list[str] = Field(
        default=[], description="Legacy free-text areas that matched no gazetteer name; they "
        "cover nothing until the motion is corrected.")
    points: list[str] = []
    point_answers: list[str] = []
    response: str | None
    response_published_at: datetime | None
    recorded_by: str
    response_published_by: str | None = None
    #: The response was revised: its earlier versions (with their point answers), oldest
    #: first, each with why it was replaced (empty: never revised).
    response_history: list[AnswerVersionOut] = []


class GazetteerBoroughOut(AreaOut):
    ons_code: str | None
    wards: list[AreaOut]


class AmendmentOut(Out):
    """A public amendment of the frozen record: a new version with a reason, what
    changed, and the gates whose answers it changed. A plan amendment that widened what
    the public was told says why (``notice_widened_by``) and, when it restarted the
    notice, carries the change of ``notice_published_at`` among its ``changes``."""

    id: int
    deployment_id: int
    record: str
    version: int
    reason: str
    changes: list[dict[str, Any]]
    gate_changes: list[dict[str, Any]]
    status_before: str
    status_after: str
    made_by: str
    made_at: datetime

    @computed_field(  # type: ignore[prop-decorator]
        description="The notice period runs again from this amendment (made_at): it "
        "widened what the public was told.")
    @property
    def notice_restarted(self) -> bool:
        return notice_restarted(self.changes)

    @computed_field(  # type: ignore[prop-decorator]
        description="Why the amendment widened what the public was told, a phrase per "
        "field (empty: it did not).")
    @property
    def notice_widened_by(self) -> list[str]:
        return widened_by(self.changes)


class TechnologyOut(Out):
    id: int
    algorithm: str
    model_version: str
    vendor_or_project: str
    default_threshold: float
    notes: str
    atrs: dict[str, Any] = Field(default={}, description="The ATRS fields people wrote "
                                 "(services.atrs.AtrsFields); the full record is at "
                                 "/api/public/technology/{id}/atrs.")
    version: int = 1
    updated_at: datetime | None = None


class TechnologyVersionOut(Out):
    """A register entry as published at one version, and why it changed."""

    version: int
    published_at: datetime
    published_by: str
    reason: str
    content: dict[str, Any]


class EquityAuditOut(Out):
    id: int
    technology_id: int
    conducted_on: date
    dataset: str
    engine_version: str
    second_opinion_model: str | None = None
    thresholds_swept: list[float]
    group_results: list[dict[str, Any]]
    identification: list[dict[str, Any]]
    recommended_threshold: float
    fair_threshold: float
    summary: str


class TechnologyRegisterOut(BaseModel):
    technology: TechnologyOut
    last_equity_audit: EquityAuditOut | None
    #: Every published version of the entry, oldest first.
    versions: list[TechnologyVersionOut] = []


class WatchlistOut(Out):
    id: int
    deployment_id: int
    descriptor_model: str
    reference_model: str | None = Field(
        default=None, description="The second opinion's model when the watchlist decides "
        "with one; null: the engine decides alone.")
    built_at: datetime | None
    destroyed_at: datetime | None


class WatchlistEntryOut(Out):
    """Staff view: the subject reference is shown, descriptors never are."""

    id: int
    subject_ref: str
    category: str
    source: str
    authorised_by: str
    image_taken_on: date
    expires_on: date | None
    descriptor_count: int
    added_by: str
    added_at: datetime


class WatchlistStaffOut(BaseModel):
    watchlist: WatchlistOut
    entries: list[WatchlistEntryOut]


class NodeAlertReceipt(Out):
    """What a node is answered for an alert: the alert as recorded, in what the node itself
    sent (a resend: as first recorded). Never what people decided of it (``AlertOut``):
    any key of the deployment may send, a copied one too."""

    id: int
    deployment_id: int
    alert_uid: str
    occurred_at: datetime
    camera: str
    track_id: str
    score: float
    #: The score was lifted by the watchlist's second opinion (the engine alone was below
    #: the threshold).
    second_opinion: bool = False
    entry_id: int | None
    entry_category: str
    has_probe_crop: bool = Field(default=False, description="The aligned face it sent is "
                                 "kept (encrypted) until its retention ends.")
    api_key_id: int | None = Field(default=None, description="The node key that delivered "
                                   "it first (GET /api/api-keys; another key's resend is "
                                   "answered with it); null if recorded before keys were "
                                   "noted.")


class AlertOut(NodeAlertReceipt):
    """An alert as people see it: what the node sent, and what was decided of it."""

    adjudication: str
    adjudicated_by: str | None
    adjudicated_at: datetime | None
    outcome: str | None
    outcome_recorded_at: datetime | None
    demographic_group: str | None
    probe_crop_purged_at: datetime | None = None
    #: What followed an arrest (charged, cautioned, released_without_charge,
    #: no_further_action), recorded within OPENLFR_LATER_OUTCOME_WINDOW_DAYS.
    later_outcome: str | None = None
    later_outcome_recorded_at: datetime | None = None


class FiguresOut(Out):
    faces_seen: int
    tracks: int
    alerts: int
    confirmed: int
    false_alerts: int
    unclear: int
    pending: int
    outcomes: dict[str, int]
    second_opinion_alerts: int = Field(
        description="Alerts the second opinion lifted to the threshold (0 where the "
                    "watchlist decides without one)")
    second_opinion_false_alerts: int = Field(
        description="Of those, the alerts operators adjudicated false")
    counts_beyond_cameras: bool = Field(
        default=False, description="The node counted more faces passing than the "
        "deployment's cameras could have seen in the time it ran (20 new faces a camera a "
        "second): its counts are published as sent, and no rate per face is published")


class LiveCountersOut(Out):
    """The operator console's counters (``counters`` event of the live stream)."""

    faces_seen: int
    tracks: int
    alerts: int
    confirmed: int
    false_alerts: int
    unclear: int
    pending: int
    frames_processed: int
    frames_dropped: int
    frames_near_behind: int


class LiveStatusOut(Out):
    """The deployment's status as the console shows it (``status`` event): ``live`` while
    alerts can arrive, ``ended`` once none ever will (the stream then ends); after a
    deployment ran, ``late_until`` is when late delivery closes (the stream stays open
    until then)."""

    deployment_id: int
    reference: str
    status: str
    live: bool
    ended: bool
    message: str
    late_until: datetime | None = None


class CountersReceipt(BaseModel):
    batch_id: str
    counted: bool


class NodeBatchOut(BaseModel):
    """Each alert as recorded and each counter batch's receipt, in the order sent."""

    alerts: list[NodeAlertReceipt]
    counters: list[CountersReceipt]


class NodeEntryOut(BaseModel):
    entry_id: int
    category: str
    descriptors: list[list[float]]
    references: list[list[float]] | None = Field(
        default=None, description="The second opinion's descriptors, one per descriptor; "
        "only on a watchlist with a reference model.")


class NodeDeploymentOut(BaseModel):
    """Whether an engine node may run for a deployment now, and if not, why."""

    deployment_id: int
    reference: str
    status: str
    start_at: datetime
    end_at: datetime
    threshold: float
    may_run: bool
    reason: str | None = Field(description="Why the node may not run; null when it may.")
    late_delivery_until: datetime | None = Field(
        description="Once the deployment has ended: until when alerts and counts recorded "
        "before the end are still accepted.")


class NodeWatchlistOut(BaseModel):
    """What an engine node needs to match: no subject references."""

    deployment_id: int
    reference: str
    threshold: float
    descriptor_model: str
    reference_model: str | None = Field(
        description="Decide with a second opinion from this model (each entry's references); "
        "null: the engine decides alone. The node obeys it: it is the deployment's decision "
        "rule, held to an equity audit made the same way.")
    built_at: datetime
    entries: list[NodeEntryOut]


class HeldChangeOut(BaseModel):
    """A change to the account waiting for a countersignature: an admin's (any member of
    oversight signs it) or a member of oversight's (another member signs it)."""

    id: str = Field(description="Send it back to countersign or refuse (change_id).")
    fields: list[str] = Field(description="What it changes: created (a new account), role, "
                              "areas (a councillor's), password (a reset) or active (a "
                              "reactivation).")
    role: str | None = Field(default=None, description="The role it gives, if any.")
    areas: list[str] | None = Field(default=None, description="The areas it gives a "
                                    "councillor (gazetteer codes), if it changes them.")
    requested_by: str
    requested_at: str


class UserOut(Out):
    id: int
    username: str
    role: str
    active: bool
    created_at: datetime
    areas: list[str] = Field(default=[], description="A councillor's areas (gazetteer codes).")
    held_change: HeldChangeOut | None = Field(
        default=None, description="A change waiting for a member of oversight (not the one "
        "who asked) to countersign it (POST /api/oversight/account-changes/{id}/"
        "countersign); until then it has no effect.")


class CountersignedOut(UserOut):
    first_login_code: str | None = Field(
        default=None, description="Shown once, to the member of oversight who countersigned, "
        "when the change put a password someone else chose in force (a new account, a "
        "reset): give it to the person by a way the one who asked does not hold; their first "
        "login needs it with a new password of their own (POST /api/auth/login: "
        "first_login_code, new_password).")


class MeOut(BaseModel):
    username: str
    role: str


class ApiKeyOut(Out):
    id: int
    name: str
    key_prefix: str
    role: str
    deployment_id: int | None
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    #: When it last authenticated a request (to the minute); null if never.
    last_used_at: datetime | None = None
    confirmed_at: datetime | None = Field(
        default=None, description="When an operator confirmed it (a node key works only "
        "then: POST /api/api-keys/{id}/confirm); null while it waits.")
    confirmed_by: str | None = None
    alerts_delivered: int = Field(default=0, description="Alerts this key delivered.")
    counter_batches_delivered: int = Field(default=0, description="Batches of counts this "
                                           "key delivered.")
    last_delivery_at: datetime | None = Field(default=None, description="When the last of "
                                              "them arrived; null if none did.")


class NewApiKeyOut(BaseModel):
    key: ApiKeyOut
    secret: str | None = Field(description="Shown once. A node key an authoriser issues has "
                               "none yet: the operator who confirms it is shown it.")
    message: str


class AuditEventOut(Out):
    seq: int
    occurred_at: str
    actor: str
    action: str
    subject_type: str
    subject_id: str
    details: str
    prev_hash: str
    hash: str


class AuditVerificationOut(BaseModel):
    ok: bool
    events_checked: int
    first_broken_seq: int | None
    problem: str | None
    message: str


class AuditCheckpointOut(BaseModel):
    """A signed checkpoint of the audit log: event ``seq`` had hash ``head_hash`` at
    ``signed_at``. Save it; ``openlfr audit verify --checkpoint FILE`` (or fetching the
    checkpoint at the same seq later and comparing the hash) proves the log still extends
    it. The signature is Ed25519 over the canonical JSON of format, version, seq,
    head_hash and signed_at."""

    format: str
    version: int
    seq: int
    head_hash: str
    signed_at: str
    public_key: str = Field(description="The platform's Ed25519 public key, base64.")
    signature: str = Field(description="Ed25519 signature, base64.")


class PublicDeploymentSummary(BaseModel):
    reference: str
    title: str
    borough: str
    ward: str | None
    borough_code: str | None
    ward_code: str | None
    start_at: datetime
    end_at: datetime
    status: str
    status_text: str = Field(description="The status as people read it, e.g. \"authorised "
                             "despite 2 failed checks\" when it went ahead by a "
                             "countersigned override.")
    went_ahead_despite: list[str] = Field(
        default=[], description="The failed checks (gate names) it went ahead despite.")
    notice_published_at: datetime | None


class RescheduleOut(BaseModel):
    """A change of published dates: from which to which, when, and why."""

    at: datetime
    old_start_at: datetime
    old_end_at: datetime
    new_start_at: datetime
    new_end_at: datetime
    reason: str


class PublicDeploymentOut(PublicDeploymentSummary):
    """Everything the public may know about a deployment; nothing personal. ``gates`` are
    those the decision was based on (``gates_basis``: "activate" or "authorise"), or the
    live verdicts ("live") before any decision."""

    sites: list[SiteOut]
    purpose: str
    offence_categories: list[str]
    intelligence_basis: str
    legal_basis: str
    threshold: float
    camera_count: int
    signage: str
    cancel_reason: str | None
    review_summary: str | None
    gates: list[GateOut]
    gates_basis: str
    gates_evaluated_at: datetime | None
    overrides: list[OverrideOut]
    assessment: AssessmentOut | None
    engagement_events: list[EngagementEventOut]
    consultation: ConsultationOut | None
    consultation_results: ConsultationResultsOut | None
    feedback: list[FeedbackPublicOut]
    comments: list[CommentOut]
    watchlist_by_category: dict[str, int]
    #: The model of the second opinion the watchlist decides with (a score just below the
    #: threshold alerts when it agrees); null: the engine decides alone.
    second_opinion: str | None = None
    figures: FiguresOut
    #: Every change of the published dates, oldest first (notice counts from the last).
    reschedules: list[RescheduleOut] = []
    #: Every amendment of the frozen record, oldest first, with what it changed.
    amendments: list[AmendmentOut] = []
    #: The gates at each decision taken (authorisation, activation), in order; kept as
    #: they stood, not run again once the records change (e.g. the watchlist destroyed).
    gate_decisions: list[GateDecisionOut] = []
