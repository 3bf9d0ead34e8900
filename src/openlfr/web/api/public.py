"""Public, read-only views (and the two things anyone may send: feedback and anonymous
consultation responses). No login. Nothing personal: no subject references, no
feedback contact details, no probe images, no per-alert demographic data."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path

from openlfr.governance.errors import NotFound
from openlfr.governance.records import ConsultationStatus
from openlfr.services import alerts, assessments, consultations, deployments, rescheduling
from openlfr.services.platform import PUBLIC_ACTOR, Platform
from openlfr.services.schemas import ConsultationResponseIn, FeedbackIn
from openlfr.services.watchlists import category_counts
from openlfr.storage import models as m
from openlfr.web.api import CONFLICT, NOT_FOUND
from openlfr.web.api.assessments import assessment_out
from openlfr.web.api.consultations import kept_wording_out, results_out
from openlfr.web.api.deployments import gate_report_out
from openlfr.web.api.technology import register_out
from openlfr.web.deps import IdPath, PlatformDep
from openlfr.web.schemas import (
    CommentOut,
    ConsultationOut,
    EngagementEventOut,
    FeedbackPublicOut,
    FeedbackReceipt,
    FiguresOut,
    GateOut,
    MotionOut,
    OverrideOut,
    PublicDeploymentOut,
    PublicDeploymentSummary,
    QuestionOut,
    RescheduleOut,
    SiteOut,
    TechnologyRegisterOut,
)

#: A deployment reference as the platform writes them, e.g. LFR-2026-0007.
Reference = Annotated[str, Path(max_length=40, pattern=r"^LFR-\d{4}-\d{4,}$")]

router = APIRouter(prefix="/public", tags=["public"], responses=NOT_FOUND)


def _consultation_out(c: m.Consultation) -> ConsultationOut:
    return ConsultationOut(id=c.id, deployment_id=c.deployment_id, benefits=c.benefits,
                           risks=c.risks, questions=[QuestionOut(**q) for q in c.questions],
                           status=c.status, opened_at=c.opened_at, closed_at=c.closed_at,
                           kept_wording=kept_wording_out(c))


def published_gates(platform: Platform, d: m.Deployment) -> tuple[list[GateOut], str,
                                                                   datetime | None]:
    """The gates as they stood when the deployment was activated (or else authorised): the
    basis of the decision. Before any decision, the gates as they stand now."""
    for basis in ("activate", "authorise"):
        snapshot = d.gate_snapshots.get(basis)
        if snapshot:
            return ([GateOut.model_validate(g) for g in snapshot["results"]], basis,
                    datetime.fromisoformat(snapshot["at"]))
    return (gate_report_out(deployments.gate_report(platform, d.id)).gates, "live",
            platform.clock())


def _feedback_out(f: m.Feedback, platform: Platform) -> FeedbackPublicOut:
    now = platform.clock()
    return FeedbackPublicOut(
        id=f.id, kind=f.kind, text=None if f.hidden_for_abuse else f.text,
        submitted_at=f.submitted_at, answer_due_at=f.answer_due_at, answer=f.answer,
        answered_at=f.answered_at, hidden_for_abuse=f.hidden_for_abuse,
        moderation_reason=f.moderation_reason if f.hidden_for_abuse else None,
        moderated_at=f.moderated_at if f.hidden_for_abuse else None,
        overdue=f.answered_at is None and f.answer_due_at < now)


@router.get("/deployments", response_model=list[PublicDeploymentSummary])
def list_public_deployments(platform: PlatformDep) -> list[PublicDeploymentSummary]:
    """Deployments with published notice: upcoming, active and past."""
    return [PublicDeploymentSummary.model_validate(d, from_attributes=True)
            for d in deployments.public_deployments(platform)]


@router.get("/deployments/{reference}", response_model=PublicDeploymentOut)
def public_deployment(reference: Reference, platform: PlatformDep) -> PublicDeploymentOut:
    """Everything published about one deployment: plan, gates, overrides, assessment,
    engagement, consultation, feedback and answers, comments, watchlist size by
    category, and figures."""
    d = deployments.public_deployment(platform, reference)
    gates, basis, evaluated_at = published_gates(platform, d)
    view = assessments.view_assessment(platform, d.id)
    try:
        c: m.Consultation | None = consultations.get_consultation(platform, d.id)
    except NotFound:
        c = None
    if c is not None and c.status == ConsultationStatus.DRAFT.value:
        c = None
    results = None
    if c is not None and c.status == ConsultationStatus.CLOSED.value:
        results = results_out(consultations.consultation_results(platform, c.id))
    return PublicDeploymentOut(
        reference=d.reference, title=d.title, borough=d.borough, ward=d.ward,
        start_at=d.start_at, end_at=d.end_at, status=d.status,
        notice_published_at=d.notice_published_at,
        sites=[SiteOut.model_validate(x) for x in d.sites], purpose=d.purpose,
        offence_categories=d.offence_categories, intelligence_basis=d.intelligence_basis,
        legal_basis=d.legal_basis, threshold=d.threshold, camera_count=d.camera_count,
        signage=d.signage, cancel_reason=d.cancel_reason, review_summary=d.review_summary,
        gates=gates, gates_basis=basis, gates_evaluated_at=evaluated_at,
        overrides=[OverrideOut.model_validate(o) for o in deployments.overrides_for(platform,
                                                                                    d.id)],
        assessment=assessment_out(view) if view.published_at is not None else None,
        engagement_events=[EngagementEventOut.model_validate(e)
                           for e in assessments.list_engagement_events(platform, d.id)],
        consultation=_consultation_out(c) if c is not None else None,
        consultation_results=results,
        feedback=[_feedback_out(f, platform) for f in consultations.public_feedback(platform,
                                                                                   d.id)],
        comments=[CommentOut.model_validate(x) for x in deployments.comments_for(platform,
                                                                                 d.id)],
        watchlist_by_category=category_counts(platform, d.id),
        figures=FiguresOut.model_validate(alerts.deployment_figures(platform, d.id)),
        reschedules=[RescheduleOut.model_validate(r, from_attributes=True)
                     for r in rescheduling.reschedule_history(platform, [d.id])[d.id]])


@router.post("/deployments/{reference}/feedback", response_model=FeedbackReceipt,
             status_code=201)
def submit_feedback(reference: Reference, data: FeedbackIn,
                    platform: PlatformDep) -> FeedbackReceipt:
    """Object, ask, support, complain, or ask for redress. Contact details are optional
    and never published; the answer is published by the deadline given."""
    d = deployments.public_deployment(platform, reference)
    f = consultations.submit_feedback(platform, PUBLIC_ACTOR, d.id, data)
    return FeedbackReceipt(
        id=f.id, answer_due_at=f.answer_due_at,
        message=f"received; a public answer is due by {f.answer_due_at.date().isoformat()}")


@router.get("/consultations", response_model=list[ConsultationOut])
def open_consultations(platform: PlatformDep) -> list[ConsultationOut]:
    """Consultations open for responses now."""
    return [_consultation_out(c) for c in consultations.open_consultations(platform)]


@router.get("/consultations/{consultation_id}", response_model=ConsultationOut)
def public_consultation(consultation_id: IdPath, platform: PlatformDep) -> ConsultationOut:
    """An open or closed consultation: information sheet, questions, and any flagged
    wording kept on purpose with the reason."""
    return _consultation_out(consultations.public_consultation(platform, consultation_id))


@router.post("/consultations/{consultation_id}/responses", status_code=204, responses=CONFLICT)
def respond(consultation_id: IdPath, data: ConsultationResponseIn,
            platform: PlatformDep) -> None:
    """An anonymous response: nothing identifying is asked for or stored; an optional
    postcode district (the first part of a UK postcode, e.g. "SE11") says where
    responses come from."""
    consultations.public_consultation(platform, consultation_id)
    consultations.submit_response(platform, PUBLIC_ACTOR, consultation_id, data)


@router.get("/motions", response_model=list[MotionOut])
def motions(platform: PlatformDep) -> list[MotionOut]:
    """Council motions and the published responses."""
    return [MotionOut.model_validate(x) for x in consultations.list_motions(platform)]


@router.get("/technology", response_model=list[TechnologyRegisterOut])
def technology_register(platform: PlatformDep) -> list[TechnologyRegisterOut]:
    """The technology register with each setup's last equity audit."""
    return register_out(platform)
