"""The public read model: what anyone may see of a deployment, decided here once.

The JSON API (``/api/public/...``) and the portal's pages both render these views, so they
cannot disagree. What is decided here: which deployments are public (notice given), which
gates are published (those the decision was based on, else the live ones), which
overrides (those that took effect; a request awaiting a countersignature is staff
business), that a deployment went ahead "despite N failed checks", which feedback text is
withheld (hidden for abuse: the moderation reason is shown instead; the item still counts
and still gets its answer) and which is overdue (``FeedbackFacts.overdue``, the governance
rule), every earlier version of a revised answer, the assessment only once published, the
consultation only once open and its results once closed, the watchlist only as counts by
category, and the amendments of the frozen record with what they changed. Nothing
personal: no subject references, contact details, probe images or per-alert groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openlfr.governance.answers import PRIVATE_KINDS
from openlfr.governance.errors import NotFound
from openlfr.governance.gates import GateResult, evaluate_gates
from openlfr.governance.lifecycle import DeploymentStatus
from openlfr.governance.records import KINDS_NEEDING_ANSWER, ConsultationStatus, FeedbackKind
from openlfr.services import overrides, portal
from openlfr.services.alerts import DeploymentFigures, totals
from openlfr.services.amendments import amendments_in
from openlfr.services.answer_history import AnswerVersion, public_versions
from openlfr.services.assessments import AssessmentView, assessment_view_in, engagement_events_in
from openlfr.services.collective import PublicCollective, collective_for_deployment
from openlfr.services.consultations import (
    ConsultationResults,
    KeptWording,
    consultation_of,
    feedback_in,
    kept_wording,
    motions_in,
    results_in,
)
from openlfr.services.deployments import public_deployments_in, public_row_in
from openlfr.services.dossier import build_dossier, feedback_fact, motion_fact
from openlfr.services.figures import deployment_figures_in
from openlfr.services.gazetteer import gazetteer_for
from openlfr.services.platform import Platform
from openlfr.services.rescheduling import Reschedule, reschedule_history
from openlfr.services.watchlists import category_counts_in
from openlfr.storage import models as m

#: How the basis of the published gates is named: the decision it was, or "live".
LIVE = "live"


def status_text(status: str, went_ahead_despite: list[str]) -> str:
    """A deployment's status as the public reads it everywhere: "authorised despite 3
    failed checks" when it went ahead by a countersigned override."""
    words = status.replace("_", " ")
    n = len(went_ahead_despite)
    if not n:
        return words
    despite = f"despite {n} failed check{'s' if n != 1 else ''}"
    if status == DeploymentStatus.AUTHORISED.value:
        return f"authorised {despite}"
    return f"{words} (authorised {despite})"


@dataclass(frozen=True)
class PublishedGates:
    """The gates as published: the basis of the decision ("activate" or "authorise"),
    or the live verdicts ("live") before any decision."""

    results: list[GateResult]
    basis: str
    evaluated_at: datetime

    @property
    def passed(self) -> int:
        return sum(1 for g in self.results if g.passed)

    @property
    def failing(self) -> list[GateResult]:
        return [g for g in self.results if not g.passed]


@dataclass(frozen=True)
class PublicSummary:
    """A published deployment in a list (home page, feeds, the API's list)."""

    deployment: m.Deployment
    gates: PublishedGates
    #: The failed checks it went ahead despite (empty when none).
    went_ahead_despite: list[str]

    @property
    def status_text(self) -> str:
        return status_text(self.deployment.status, self.went_ahead_despite)

    @property
    def overridden_checks(self) -> int:
        return len(self.went_ahead_despite)


@dataclass(frozen=True)
class PublicFeedback:
    """Feedback as the public sees it: the text withheld when hidden for abuse, and for a
    redress request always (it comes from someone alerted or stopped and could identify
    them: the public sees that one was made, when, and what came of it; the text stays
    with staff and oversight)."""

    id: int
    kind: str
    text: str | None
    submitted_at: datetime
    answer_due_at: datetime
    answer: str | None
    answered_at: datetime | None
    hidden_for_abuse: bool
    moderation_reason: str | None
    moderated_at: datetime | None
    needs_answer: bool
    overdue: bool
    outcome: str | None = None
    amendment_id: int | None = None
    #: The text (and answer) are kept private: a redress request.
    private: bool = False
    reply: str | None = None
    replied_at: datetime | None = None
    escalated_at: datetime | None = None
    oversight_response: str | None = None
    oversight_responded_at: datetime | None = None
    #: Earlier versions of the answer and of oversight's response, oldest first (the
    #: words withheld where the item is private).
    answer_history: list[AnswerVersion] = field(default_factory=list)
    oversight_response_history: list[AnswerVersion] = field(default_factory=list)

    @property
    def followable(self) -> bool:
        """Anyone may follow it by e-mail: its text is shown and it is not private (a
        redress request's answer goes to its author alone; services.objections refuses the
        rest too)."""
        return not (self.hidden_for_abuse or self.private)


@dataclass(frozen=True)
class PublicDeployment(PublicSummary):
    """Everything published about one deployment."""

    overrides: list[m.GateOverride]
    assessment: AssessmentView | None
    engagement_events: list[m.EngagementEvent]
    engagement_reach: portal.EngagementReach
    consultation: m.Consultation | None
    kept_wording: list[KeptWording]
    consultation_results: ConsultationResults | None
    feedback: list[PublicFeedback]
    comments: list[m.OversightComment]
    watchlist_by_category: dict[str, int]
    #: The second opinion the watchlist decides with (None: the engine alone, or no
    #: watchlist yet): part of the decision rule, so public.
    second_opinion: str | None
    figures: DeploymentFigures
    reschedules: list[Reschedule]
    amendments: list[m.Amendment]
    motions: list[m.CouncilMotion]
    areas: list[portal.NoticeArea]
    #: The gates at each decision taken (authorisation, activation), in order.
    decisions: list[PublishedGates]
    #: Collective objections attached to it (signature counts, never who signed).
    collective_objections: list[PublicCollective] = field(default_factory=list)


def published_gates_in(s: Session, p: Platform, d: m.Deployment) -> PublishedGates:
    """The gates as they stood when the deployment was activated (or else authorised):
    the basis of the decision. Before any decision, the gates as they stand now."""
    decided = decision_gates(d)
    if decided:
        return decided[-1]
    report = evaluate_gates(build_dossier(s, d, p.clock()), p.settings.gate_parameters())
    return PublishedGates(list(report.results), LIVE, p.clock())


#: The decisions whose gates are kept, in the order they are taken.
DECISIONS = ("authorise", "activate")
#: Statuses after which no gated decision is left to take: the checklist is the record
#: of the decisions, not the gates run again against records that have since ended (the
#: watchlist is destroyed when a deployment completes).
DECIDED_STATUSES = frozenset({DeploymentStatus.COMPLETED.value, DeploymentStatus.REVIEWED.value,
                              DeploymentStatus.CANCELLED.value})


def decision_gates(d: m.Deployment) -> list[PublishedGates]:
    """The gates as they stood at each decision taken (authorisation, activation), in
    order: what each decision was based on, kept after the records change."""
    kept = []
    for basis in DECISIONS:
        snapshot = d.gate_snapshots.get(basis)
        if snapshot:
            kept.append(PublishedGates(
                [GateResult(g["name"], g["passed"], g["reason"]) for g in snapshot["results"]],
                basis, datetime.fromisoformat(snapshot["at"])))
    return kept


def gates_rerun_meaningful(d: m.Deployment) -> bool:
    """False once the deployment is completed, reviewed or cancelled: running the gates
    again then would judge a decision by records that have ended since."""
    return d.status not in DECIDED_STATUSES


def _summary_in(s: Session, p: Platform, d: m.Deployment) -> PublicSummary:
    return PublicSummary(d, published_gates_in(s, p, d), overrides.went_ahead_despite(s, d.id))


def public_summaries(p: Platform) -> list[PublicSummary]:
    """Every published deployment, newest start first."""
    with p.sessions() as s:
        return [_summary_in(s, p, d) for d in public_deployments_in(s)]


def summaries_by_phase(p: Platform) -> dict[portal.Phase, list[PublicSummary]]:
    """Published deployments by phase: upcoming soonest first, the rest newest first."""
    now = p.clock()
    grouped: dict[portal.Phase, list[PublicSummary]] = {phase: [] for phase in portal.Phase}
    for item in public_summaries(p):
        grouped[portal.deployment_phase(item.deployment, now)].append(item)
    grouped[portal.Phase.UPCOMING].sort(key=lambda x: x.deployment.start_at)
    return grouped


def feedback_as_published(f: m.Feedback, now: datetime) -> PublicFeedback:
    """One item of feedback as the public sees it, on every page, feed and review: the
    one rule for what is withheld (a redress request's words and answer, text hidden for
    abuse, and always the contact)."""
    hidden = f.hidden_for_abuse
    private = FeedbackKind(f.kind) in PRIVATE_KINDS
    withheld = hidden or private
    return PublicFeedback(
        id=f.id, kind=f.kind, text=None if withheld else f.text, submitted_at=f.submitted_at,
        answer_due_at=f.answer_due_at, answer=None if private else f.answer,
        answered_at=f.answered_at,
        hidden_for_abuse=hidden, moderation_reason=f.moderation_reason if hidden else None,
        moderated_at=f.moderated_at if hidden else None,
        needs_answer=f.kind in {k.value for k in KINDS_NEEDING_ANSWER},
        overdue=feedback_fact(f).overdue(now), outcome=f.outcome, amendment_id=f.amendment_id,
        private=private, reply=None if withheld else f.reply,
        replied_at=f.replied_at, escalated_at=f.escalated_at,
        oversight_response=None if private else f.oversight_response,
        oversight_responded_at=f.oversight_responded_at,
        answer_history=public_versions(f.answer_history, private),
        oversight_response_history=public_versions(f.oversight_response_history, private))


def public_deployment(p: Platform, reference: str) -> PublicDeployment:
    """Everything published about one deployment (NotFound unless notice was given)."""
    now = p.clock()
    with p.sessions() as s:
        d = public_row_in(s, reference)
        summary = _summary_in(s, p, d)
        assessment = assessment_view_in(s, d.id)
        c = consultation_of(s, d.id)
        if c is not None and c.status == ConsultationStatus.DRAFT.value:
            c = None
        published = list(s.scalars(select(m.GateOverride).where(
            m.GateOverride.deployment_id == d.id, overrides.published())
            .order_by(m.GateOverride.id)))
        comments = list(s.scalars(select(m.OversightComment).where(
            m.OversightComment.deployment_id == d.id).order_by(m.OversightComment.id)))
        view = PublicDeployment(
            deployment=d, gates=summary.gates, went_ahead_despite=summary.went_ahead_despite,
            overrides=published,
            assessment=assessment if assessment.published_at is not None else None,
            engagement_events=engagement_events_in(s, d.id),
            engagement_reach=portal.engagement_reach_in(s, p, d.id),
            consultation=c, kept_wording=kept_wording(c) if c is not None else [],
            consultation_results=(results_in(s, c, p.settings.gate_parameters())
                                  if c is not None
                                  and c.status == ConsultationStatus.CLOSED.value else None),
            feedback=[feedback_as_published(f, now) for f in feedback_in(s, d.id)],
            comments=comments, watchlist_by_category=category_counts_in(s, d.id),
            second_opinion=s.scalar(select(m.Watchlist.reference_model).where(
                m.Watchlist.deployment_id == d.id)),
            figures=totals(deployment_figures_in(s, d).total),
            reschedules=[], amendments=amendments_in(s, d.id),
            motions=[r for r in motions_in(s) if motion_fact(r).covers(
                d.borough_code, d.ward_code)],
            areas=portal.deployment_areas(d), decisions=decision_gates(d),
            collective_objections=collective_for_deployment(s, p, d.id))
    return replace(view, reschedules=reschedule_history(p, [d.id])[d.id])


def public_feedback_item(p: Platform, feedback_id: int) -> PublicFeedback:
    """One item of feedback as the public sees it."""
    with p.sessions() as s:
        f = s.get(m.Feedback, feedback_id)
        d = s.get(m.Deployment, f.deployment_id) if f is not None else None
        if f is None or d is None:
            raise NotFound(f"no feedback {feedback_id}")
        public_row_in(s, d.reference)  # published deployments only
        return feedback_as_published(f, p.clock())


def public_deployments_in_area(p: Platform, code: str) -> tuple[portal.NoticeArea,
                                                                 list[PublicSummary]]:
    """An area (UnknownArea with the closest names for text that is none) and its
    published deployments with how each stands (a borough includes its wards)."""
    area = portal.notice_area(p, code)
    listed = [item for item in public_summaries(p) if portal.reaches(item.deployment, area.code)]
    return area, listed


def engagement_evidence(p: Platform, reference: str, event_id: int
                        ) -> tuple[str, str, bytes]:
    """The PDF attached to an engagement event of a published deployment: an ASCII file
    name safe to put in a header, the name as uploaded (any script: ``protokół.pdf``), and
    the bytes; NotFound when there is none."""
    with p.sessions() as s:
        d = public_row_in(s, reference)
        e = s.get(m.EngagementEvent, event_id)
        if e is None or e.deployment_id != d.id or e.evidence_pdf is None:
            raise NotFound(f"engagement event {event_id} of {reference} has no PDF evidence")
        given = "".join(c for c in e.evidence_filename or "" if c.isalnum() or c in "._- ")
        ascii_name = "".join(c for c in given if c.isascii())
        fallback = f"engagement-{event_id}.pdf"
        return (ascii_name[:100] if ascii_name.strip(" ._-") else fallback,
                given[:100] or fallback, e.evidence_pdf)


@dataclass(frozen=True)
class PublishedConsultation:
    """A deployment's consultation once opened, and its results once closed."""

    consultation: m.Consultation
    results: ConsultationResults | None


def published_consultation(p: Platform, deployment_id: int) -> PublishedConsultation | None:
    """The consultation as the public sees it (None while it is a draft or absent)."""
    with p.sessions() as s:
        c = consultation_of(s, deployment_id)
        if c is None or c.status == ConsultationStatus.DRAFT.value:
            return None
        closed = c.status == ConsultationStatus.CLOSED.value
        return PublishedConsultation(
            c, results_in(s, c, p.settings.gate_parameters()) if closed else None)


def public_motions(p: Platform) -> list[m.CouncilMotion]:
    """Council motions and the force's responses (all are public), newest first."""
    with p.sessions() as s:
        return motions_in(s)


def area_names(p: Platform, codes: list[str]) -> list[dict[str, Any]]:
    """Codes with the names people read ("Lambeth / Vauxhall")."""
    g = gazetteer_for(p.settings)
    return [{"code": c, "name": g.label(c)} for c in codes]
