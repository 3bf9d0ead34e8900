"""Public, read-only views (and the things anyone may send: feedback and anonymous
consultation responses). No login. They render the public read model
(``services.public_view``), which the portal's pages render too: nothing personal, no
subject references, no feedback contact details, no probe images, no per-alert
demographic data."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Path, Response

from openlfr.services import (
    atrs,
    audit_log,
    collective,
    consultations,
    deployments,
    objections,
    portal,
    public_view,
    technology,
)
from openlfr.services.objections import author_url
from openlfr.services.platform import PUBLIC_ACTOR
from openlfr.services.portal import area_list
from openlfr.services.powers import Action
from openlfr.services.schemas import (
    CollectiveObjectionIn,
    ConsultationResponseIn,
    FeedbackIn,
    FollowIn,
    ReplyIn,
)
from openlfr.storage import models as m
from openlfr.web.api import CONFLICT, NOT_FOUND
from openlfr.web.api.assessments import assessment_out
from openlfr.web.api.consultations import collective_out, kept_wording_out, results_out
from openlfr.web.api.motions import motion_out
from openlfr.web.api.technology import register_out
from openlfr.web.deps import ClientDep, IdPath, PlatformDep, power
from openlfr.web.schemas import (
    AmendmentOut,
    AreaOut,
    AuditCheckpointOut,
    CommentOut,
    ConsultationOut,
    EngagementEventOut,
    FeedbackPublicOut,
    FeedbackReceipt,
    FiguresOut,
    GateDecisionOut,
    GateOut,
    GazetteerBoroughOut,
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

router = APIRouter(prefix="/public", tags=["public"], responses=NOT_FOUND,
                   dependencies=[power(Action.PUBLIC_READ)])


def _consultation_out(c: m.Consultation) -> ConsultationOut:
    return ConsultationOut(id=c.id, deployment_id=c.deployment_id, benefits=c.benefits,
                           risks=c.risks, questions=[QuestionOut(**q) for q in c.questions],
                           status=c.status, opened_at=c.opened_at, closed_at=c.closed_at,
                           kept_wording=kept_wording_out(c))


def summary_out(item: public_view.PublicSummary) -> PublicDeploymentSummary:
    d = item.deployment
    return PublicDeploymentSummary(
        reference=d.reference, title=d.title, borough=d.borough, ward=d.ward,
        borough_code=d.borough_code, ward_code=d.ward_code, start_at=d.start_at,
        end_at=d.end_at, status=d.status, status_text=item.status_text,
        went_ahead_despite=item.went_ahead_despite, notice_published_at=d.notice_published_at)


def deployment_out(view: public_view.PublicDeployment) -> PublicDeploymentOut:
    """The public read model of one deployment as JSON."""
    d = view.deployment
    return PublicDeploymentOut(
        **summary_out(view).model_dump(),
        sites=[SiteOut.model_validate(x) for x in d.sites], purpose=d.purpose,
        offence_categories=d.offence_categories, intelligence_basis=d.intelligence_basis,
        legal_basis=d.legal_basis, threshold=d.threshold, camera_count=d.camera_count,
        signage=d.signage, cancel_reason=d.cancel_reason, review_summary=d.review_summary,
        gates=[GateOut.model_validate(g) for g in view.gates.results],
        gates_basis=view.gates.basis, gates_evaluated_at=view.gates.evaluated_at,
        overrides=[OverrideOut.model_validate(o) for o in view.overrides],
        assessment=assessment_out(view.assessment) if view.assessment is not None else None,
        engagement_events=[EngagementEventOut.model_validate(e)
                           for e in view.engagement_events],
        consultation=_consultation_out(view.consultation) if view.consultation else None,
        consultation_results=(results_out(view.consultation_results)
                              if view.consultation_results is not None else None),
        feedback=[FeedbackPublicOut.model_validate(f, from_attributes=True)
                  for f in view.feedback],
        comments=[CommentOut.model_validate(x) for x in view.comments],
        watchlist_by_category=view.watchlist_by_category,
        second_opinion=view.second_opinion,
        figures=FiguresOut.model_validate(view.figures),
        reschedules=[RescheduleOut.model_validate(r, from_attributes=True)
                     for r in view.reschedules],
        amendments=[AmendmentOut.model_validate(a) for a in view.amendments],
        gate_decisions=[GateDecisionOut(basis=k.basis, evaluated_at=k.evaluated_at,
                                        gates=[GateOut.model_validate(g) for g in k.results])
                        for k in view.decisions])


@router.get("/deployments", response_model=list[PublicDeploymentSummary])
def list_public_deployments(platform: PlatformDep) -> list[PublicDeploymentSummary]:
    """Deployments with published notice: upcoming, active and past, each with its status
    as people read it ("authorised despite 2 failed checks")."""
    return [summary_out(item) for item in public_view.public_summaries(platform)]


@router.get("/deployments/{reference}", response_model=PublicDeploymentOut)
def public_deployment(reference: Reference, platform: PlatformDep) -> PublicDeploymentOut:
    """Everything published about one deployment: plan, gates, overrides that took
    effect, assessment, engagement (who was met, with evidence), consultation, feedback
    and answers, comments, amendments of the frozen record with their history, watchlist
    size by category, and figures."""
    return deployment_out(public_view.public_deployment(platform, reference))


@router.get("/deployments/{reference}/engagement/{event_id}/evidence.pdf",
            response_class=Response,
            responses={200: {"content": {"application/pdf": {}},
                             "description": "The PDF evidence of an engagement event."}})
def engagement_evidence(reference: Reference, event_id: IdPath,
                        platform: PlatformDep) -> Response:
    """The minutes or sign-in sheet attached to an engagement event (published)."""
    name, given, content = public_view.engagement_evidence(platform, reference, event_id)
    return Response(content, media_type="application/pdf", headers={
        # The name as uploaded goes in filename* (RFC 6266), an ASCII one in filename.
        "Content-Disposition": f"inline; filename=\"{name}\"; filename*=UTF-8''{quote(given)}",
        "X-Content-Type-Options": "nosniff",
        # Shown on the portal's own address, a PDF's scripts and forms run nowhere.
        "Content-Security-Policy": "sandbox"})


@router.post("/deployments/{reference}/feedback", response_model=FeedbackReceipt,
             status_code=201, dependencies=[power(Action.FEEDBACK_SUBMIT)])
def submit_feedback(reference: Reference, data: FeedbackIn, platform: PlatformDep,
                    client: ClientDep) -> FeedbackReceipt:
    """Object, ask, support, complain, or ask for redress. Contact details are optional
    and never published; the answer is published by the deadline given."""
    d = deployments.public_deployment(platform, reference)
    f = consultations.submit_feedback(platform, PUBLIC_ACTOR, d.id, data, client)
    return FeedbackReceipt(
        id=f.id, answer_due_at=f.answer_due_at,
        message=f"received; a public answer is due by {f.answer_due_at.date().isoformat()}",
        private_link=author_url(platform.settings, f))


@router.post("/feedback/{feedback_id}/follow", status_code=202,
             dependencies=[power(Action.FEEDBACK_FOLLOW)])
def follow_feedback(feedback_id: IdPath, data: FollowIn, platform: PlatformDep,
                    client: ClientDep) -> dict[str, str]:
    """Follow an item by e-mail: a confirmation e-mail is sent; nothing more until its link
    is used (the answer is the same whether or not the address already follows)."""
    objections.follow(platform, PUBLIC_ACTOR, feedback_id, data, client)
    return {"message": "if the address is right, a confirmation e-mail is on its way"}


@router.post("/feedback/{feedback_id}/yours/{token}/reply", response_model=FeedbackPublicOut,
             dependencies=[power(Action.FEEDBACK_REPLY)])
def reply_to_answer(feedback_id: IdPath, token: Annotated[str, Path(max_length=64)],
                    data: ReplyIn, platform: PlatformDep) -> FeedbackPublicOut:
    """The author's one reply to the answer (``token`` is their private link's key)."""
    objections.reply(platform, PUBLIC_ACTOR, feedback_id, token, data)
    return _public_item(platform, feedback_id)


@router.post("/feedback/{feedback_id}/yours/{token}/escalate",
             response_model=FeedbackPublicOut, dependencies=[power(Action.FEEDBACK_REPLY)])
def escalate_feedback(feedback_id: IdPath, token: Annotated[str, Path(max_length=64)],
                      data: ReplyIn, platform: PlatformDep) -> FeedbackPublicOut:
    """Escalate to oversight: after the reply to the answer, or once the item is past its
    deadline with no answer."""
    objections.escalate(platform, PUBLIC_ACTOR, feedback_id, token, data)
    return _public_item(platform, feedback_id)


@router.post("/areas/{area}/collective-objections", status_code=202,
             dependencies=[power(Action.COLLECTIVE_OBJECT)])
def file_collective_objection(area: Annotated[str, Path(max_length=200)],
                              data: CollectiveObjectionIn, platform: PlatformDep,
                              client: ClientDep) -> dict[str, Any]:
    """Start a collective objection in an area (a gazetteer code); it attaches to the
    deployment there that is open to objections, or stands for the next one. The first
    signature counts, and the objection is published, once the e-mail's link is used."""
    o = collective.file_collective(platform, PUBLIC_ACTOR, area, data, client)
    return {"id": o.id, "message": "filed; it is published, and your signature counts, "
            "once you use the link in the confirmation e-mail"}


@router.post("/collective-objections/{objection_id}/signatures", status_code=202,
             dependencies=[power(Action.COLLECTIVE_OBJECT)])
def sign_collective_objection(objection_id: IdPath, data: FollowIn, platform: PlatformDep,
                              client: ClientDep) -> dict[str, str]:
    """Co-sign (one signature per mailbox, counted once confirmed): a published objection
    (404 before its starter confirms), its text withheld for abuse or not."""
    collective.sign(platform, PUBLIC_ACTOR, objection_id, data, client)
    return {"message": "if the address is right, a confirmation e-mail is on its way"}


@router.get("/areas/{area}/collective-objections")
def collective_objections_in_area(area: Annotated[str, Path(max_length=200)],
                                  platform: PlatformDep) -> list[dict[str, Any]]:
    """An area's published collective objections (once their starter confirmed): text
    (None where withheld for abuse, with the published reason), confirmed signature count
    (never who), the deployment each is attached to (None: standing), and oversight's
    hearing."""
    place = portal.notice_area(platform, area)
    return [collective_out(c) for c in collective.collective_in_area(platform, place.code)]


def _public_item(platform: Any, feedback_id: int) -> FeedbackPublicOut:
    item = public_view.public_feedback_item(platform, feedback_id)
    return FeedbackPublicOut.model_validate(item, from_attributes=True)


@router.get("/consultations", response_model=list[ConsultationOut])
def open_consultations(platform: PlatformDep) -> list[ConsultationOut]:
    """Consultations open for responses now."""
    return [_consultation_out(c) for c in consultations.open_consultations(platform)]


@router.get("/consultations/{consultation_id}", response_model=ConsultationOut)
def public_consultation(consultation_id: IdPath, platform: PlatformDep) -> ConsultationOut:
    """An open or closed consultation: information sheet, questions, and any flagged
    wording kept on purpose with the reason."""
    return _consultation_out(consultations.public_consultation(platform, consultation_id))


@router.post("/consultations/{consultation_id}/responses", status_code=204, responses=CONFLICT,
             dependencies=[power(Action.CONSULTATION_ANSWER)])
def respond(consultation_id: IdPath, data: ConsultationResponseIn,
            platform: PlatformDep, client: ClientDep) -> None:
    """An anonymous response: nothing identifying is asked for or stored; an optional
    postcode district (the first part of a UK postcode, e.g. "SE11") says where
    responses come from."""
    consultations.public_consultation(platform, consultation_id)
    consultations.submit_response(platform, PUBLIC_ACTOR, consultation_id, data, client)


@router.get("/motions", response_model=list[MotionOut])
def motions(platform: PlatformDep) -> list[MotionOut]:
    """Council motions, their points, and the force's published responses."""
    return [motion_out(platform, x) for x in public_view.public_motions(platform)]


@router.get("/technology", response_model=list[TechnologyRegisterOut])
def technology_register(platform: PlatformDep) -> list[TechnologyRegisterOut]:
    """The technology register with each setup's last equity audit."""
    return register_out(platform)


@router.get("/technology/atrs")
def technology_register_atrs(platform: PlatformDep) -> list[dict[str, Any]]:
    """Every register entry as an Algorithmic Transparency Recording Standard record
    (tier 1 and tier 2, the engine's own facts, equity audits, version history)."""
    return [atrs.atrs_record(e) for e in technology.atrs_entries(platform)]


@router.get("/technology/{technology_id}/atrs", responses=NOT_FOUND)
def technology_atrs(technology_id: IdPath, platform: PlatformDep) -> dict[str, Any]:
    """One register entry as an ATRS record."""
    [entry] = technology.atrs_entries(platform, technology_id)
    return atrs.atrs_record(entry)


@router.get("/areas", response_model=list[GazetteerBoroughOut])
def areas(platform: PlatformDep) -> list[GazetteerBoroughOut]:
    """The gazetteer: every borough with its wards, by code and name. Deployments,
    motions, subscriptions and figures name areas by these codes (a name or alias such as
    "London Borough of Newham" is accepted where an area is typed)."""
    return [GazetteerBoroughOut(code=b.code, name=b.name, ons_code=b.ons_code,
                                wards=[AreaOut(code=w.code, name=w.name) for w in wards])
            for b, wards in area_list(platform)]


def _checkpoint_out(platform: PlatformDep, seq: int | None) -> AuditCheckpointOut:
    found = audit_log.checkpoint(platform, PUBLIC_ACTOR, seq)
    if found is None:
        raise HTTPException(404, "the audit log has no events yet" if seq is None
                            else f"the audit log has no event #{seq}")
    return AuditCheckpointOut(**found.to_json())


@router.get("/audit/checkpoint", response_model=AuditCheckpointOut)
def audit_checkpoint(platform: PlatformDep) -> AuditCheckpointOut:
    """A signed checkpoint of the audit log's head, to keep: anyone who saved one can
    later prove that the log still extends it (``openlfr audit verify --checkpoint``)."""
    return _checkpoint_out(platform, None)


@router.get("/audit/checkpoint/{seq}", response_model=AuditCheckpointOut)
def audit_checkpoint_at(seq: IdPath, platform: PlatformDep) -> AuditCheckpointOut:
    """A signed checkpoint of event ``seq`` as stored now: its hash must equal the one in
    any checkpoint of the same seq saved earlier, or the log was rewritten (404: it was
    truncated)."""
    return _checkpoint_out(platform, seq)
