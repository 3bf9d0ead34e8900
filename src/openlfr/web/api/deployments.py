"""Deployments: draft, edit, lifecycle transitions, gate report, two-person overrides,
amendments of the frozen record, comments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response

from openlfr.governance.gates import GateReport
from openlfr.governance.lifecycle import DeploymentStatus, Transition
from openlfr.services import amendments, deployments, overrides, public_view, rescheduling
from openlfr.services.deployments import TRANSITION_POWERS, TransitionOutcome
from openlfr.services.platform import Actor, Platform
from openlfr.services.powers import Action
from openlfr.services.schemas import (
    AmendmentIn,
    CancelIn,
    CommentIn,
    CountersignIn,
    DeploymentIn,
    DeploymentPatch,
    RescheduleIn,
    ReviewIn,
    TransitionIn,
)
from openlfr.web.api import AUTH_ERRORS, CONFLICT, GATE_CONFLICT, NOT_FOUND
from openlfr.web.deps import IdPath, PlatformDep, power
from openlfr.web.schemas import (
    AmendmentOut,
    CommentOut,
    DeploymentOut,
    GateDecisionOut,
    GateOut,
    GateReportOut,
    OverrideOut,
    TransitionOut,
)

#: authorise/activate take an optional body (only needed to ask for an override).
OptionalTransition = Annotated[TransitionIn | None, Body()]

router = APIRouter(prefix="/deployments", tags=["deployments"],
                   responses={**AUTH_ERRORS, **NOT_FOUND})

Reader = Annotated[Actor, power(Action.DEPLOYMENT_READ)]


def gate_report_out(report: GateReport) -> GateReportOut:
    return GateReportOut(all_passed=report.all_passed,
                         gates=[GateOut.model_validate(g) for g in report.results])


@router.get("", response_model=list[DeploymentOut])
def list_deployments(actor: Reader, platform: PlatformDep,
                     status: DeploymentStatus | None = None) -> list[DeploymentOut]:
    """All deployments, drafts included, newest start first."""
    return [DeploymentOut.model_validate(d)
            for d in deployments.list_deployments(platform, actor, status)]


@router.post("", response_model=DeploymentOut, status_code=201)
def create_deployment(data: DeploymentIn,
                      actor: Annotated[Actor, power(Action.DEPLOYMENT_DRAFT)],
                      platform: PlatformDep) -> DeploymentOut:
    """Draft a deployment (private until notice is published). The borough and ward must
    be names (or codes) from the gazetteer; anything else is refused with the closest."""
    return DeploymentOut.model_validate(deployments.create_deployment(platform, actor, data))


@router.get("/{deployment_id}", response_model=DeploymentOut)
def get_deployment(deployment_id: IdPath, actor: Reader, platform: PlatformDep) -> DeploymentOut:
    return DeploymentOut.model_validate(deployments.get_deployment(platform, actor,
                                                                   deployment_id))


@router.patch("/{deployment_id}", response_model=DeploymentOut, responses=CONFLICT)
def update_deployment(deployment_id: IdPath, data: DeploymentPatch,
                      actor: Annotated[Actor, power(Action.DEPLOYMENT_EDIT)],
                      platform: PlatformDep) -> DeploymentOut:
    """Change the plan; refused once notice has been published (then: reschedule, or a
    public amendment)."""
    return DeploymentOut.model_validate(
        deployments.update_deployment(platform, actor, deployment_id, data))


@router.get("/{deployment_id}/gates", response_model=GateReportOut)
def gates(deployment_id: IdPath, actor: Reader, platform: PlatformDep) -> GateReportOut:
    """Every gate's verdict now, with its plain-English reason (and, for a failure no
    override can set aside, why)."""
    out = gate_report_out(deployments.gate_report(platform, actor, deployment_id))
    out.decisions = [GateDecisionOut(basis=k.basis, evaluated_at=k.evaluated_at,
                                     gates=[GateOut.model_validate(g) for g in k.results])
                     for k in public_view.decision_gates(
                         deployments.get_deployment(platform, actor, deployment_id))]
    return out


def _transition_out(outcome: TransitionOutcome) -> TransitionOut:
    return TransitionOut(
        deployment=DeploymentOut.model_validate(outcome.deployment),
        gates=[GateOut.model_validate(g) for g in outcome.gates.results] if outcome.gates else None,
        override=OverrideOut.model_validate(outcome.override) if outcome.override else None)


def _move(platform: Platform, actor: Actor, deployment_id: int, action: Transition,
          response: Response | None = None, justification: str | None = None,
          note: str | None = None) -> TransitionOut:
    outcome = deployments.transition_deployment(
        platform, actor, deployment_id, action, override_justification=justification, note=note)
    if outcome.awaiting_countersignature and response is not None:
        response.status_code = 202  # asked for; nothing has moved yet
    return _transition_out(outcome)


def _taking(transition: Transition) -> object:
    return power(TRANSITION_POWERS[transition])


_ASKED: dict[int | str, dict[str, Any]] = {202: {
    "model": TransitionOut, "description": "Gates failed and an override was asked for: it "
    "awaits a countersignature by a member of oversight; the deployment has not moved."}}


@router.post("/{deployment_id}/propose", response_model=TransitionOut, responses=CONFLICT)
def propose(deployment_id: IdPath, actor: Annotated[Actor, _taking(Transition.PROPOSE)],
            platform: PlatformDep) -> TransitionOut:
    """draft -> proposed (planner)."""
    return _move(platform, actor, deployment_id, Transition.PROPOSE)


@router.post("/{deployment_id}/publish-notice", response_model=TransitionOut, responses=CONFLICT)
def publish_notice(deployment_id: IdPath,
                   actor: Annotated[Actor, _taking(Transition.PUBLISH_NOTICE)],
                   platform: PlatformDep) -> TransitionOut:
    """proposed -> notice_published (planner or authoriser): the public notice period starts."""
    return _move(platform, actor, deployment_id, Transition.PUBLISH_NOTICE)


@router.post("/{deployment_id}/authorise", response_model=TransitionOut,
             responses={**GATE_CONFLICT, **_ASKED})
def authorise(deployment_id: IdPath, actor: Annotated[Actor, _taking(Transition.AUTHORISE)],
              platform: PlatformDep, response: Response,
              data: OptionalTransition = None) -> TransitionOut:
    """notice_published -> authorised (authoriser), when every gate passes. Otherwise 409
    with the failing gates; with ``override_justification`` the authoriser asks for an
    override instead (202): the deployment stays where it is until a member of oversight
    countersigns (``POST .../overrides/countersign``). Some failures can never be
    overridden (409 says which and why)."""
    return _move(platform, actor, deployment_id, Transition.AUTHORISE, response,
                 data.override_justification if data else None)


@router.post("/{deployment_id}/activate", response_model=TransitionOut,
             responses={**GATE_CONFLICT, **_ASKED})
def activate(deployment_id: IdPath, actor: Annotated[Actor, _taking(Transition.ACTIVATE)],
             platform: PlatformDep, response: Response,
             data: OptionalTransition = None) -> TransitionOut:
    """authorised -> active (operator or authoriser) inside the published window; the
    gates are checked again. Gates a countersigned override set aside at authorisation do
    not stop it; a gate failing anew does (an authoriser may ask for an override, 202)."""
    return _move(platform, actor, deployment_id, Transition.ACTIVATE, response,
                 data.override_justification if data else None)


@router.post("/{deployment_id}/complete", response_model=TransitionOut, responses=CONFLICT)
def complete(deployment_id: IdPath, actor: Annotated[Actor, _taking(Transition.COMPLETE)],
             platform: PlatformDep) -> TransitionOut:
    """active -> completed (operator or authoriser); the watchlist is destroyed."""
    return _move(platform, actor, deployment_id, Transition.COMPLETE)


@router.post("/{deployment_id}/review", response_model=TransitionOut, responses=CONFLICT)
def review(deployment_id: IdPath, data: ReviewIn,
           actor: Annotated[Actor, _taking(Transition.REVIEW)],
           platform: PlatformDep) -> TransitionOut:
    """completed -> reviewed (oversight or authoriser), with a published summary."""
    return _move(platform, actor, deployment_id, Transition.REVIEW, note=data.summary)


@router.post("/{deployment_id}/cancel", response_model=TransitionOut, responses=CONFLICT)
def cancel(deployment_id: IdPath, data: CancelIn,
           actor: Annotated[Actor, _taking(Transition.CANCEL)],
           platform: PlatformDep) -> TransitionOut:
    """Cancel before activation (planner or authoriser), with a published reason."""
    return _move(platform, actor, deployment_id, Transition.CANCEL, note=data.reason)


@router.post("/{deployment_id}/reschedule", response_model=TransitionOut, responses=CONFLICT)
def reschedule(deployment_id: IdPath, data: RescheduleIn,
               actor: Annotated[Actor, power(Action.DEPLOYMENT_RESCHEDULE)],
               platform: PlatformDep) -> TransitionOut:
    """New dates after notice (planner or authoriser), with a published reason. From
    notice_published or authorised, back to notice_published: the notice period runs
    again from now, and an authorisation (and any override) for the old dates is
    withdrawn. Subscribers of the area are e-mailed."""
    return TransitionOut(deployment=DeploymentOut.model_validate(
        rescheduling.reschedule_deployment(platform, actor, deployment_id, data)))


@router.get("/{deployment_id}/overrides", response_model=list[OverrideOut])
def list_overrides(deployment_id: IdPath, actor: Reader,
                   platform: PlatformDep) -> list[OverrideOut]:
    """Every override of this deployment, those awaiting a countersignature included
    (the public sees those that took effect)."""
    return [OverrideOut.model_validate(o)
            for o in deployments.overrides_for(platform, actor, deployment_id)]


@router.post("/{deployment_id}/overrides/countersign", response_model=OverrideOut,
             responses=GATE_CONFLICT)
def countersign(deployment_id: IdPath, data: CountersignIn,
                actor: Annotated[Actor, power(Action.OVERRIDE_COUNTERSIGN)],
                platform: PlatformDep) -> OverrideOut:
    """Countersign the override you read, named by ``override_id`` (oversight; someone
    other than the authoriser who asked), with your own justification (published). It
    takes the step the authoriser asked for, and the area's subscribers are e-mailed.
    Refused (409) when that request is no longer the one awaiting (replaced by a newer
    one, say), when a gate fails that the request did not name or fails otherwise than
    when it was asked for, when a failing gate can never be overridden, or when the
    deployment has moved on; 422 without ``override_id``."""
    return OverrideOut.model_validate(
        overrides.countersign_override(platform, actor, deployment_id, data))


@router.get("/{deployment_id}/amendments", response_model=list[AmendmentOut])
def list_amendments(deployment_id: IdPath, actor: Reader,
                    platform: PlatformDep) -> list[AmendmentOut]:
    """Amendments of the frozen record, oldest first (also public)."""
    return [AmendmentOut.model_validate(a)
            for a in amendments.amendments_for(platform, actor, deployment_id)]


@router.post("/{deployment_id}/amendments", response_model=AmendmentOut, status_code=201,
             responses=CONFLICT)
def amend(deployment_id: IdPath, data: Annotated[AmendmentIn, Body()],
          actor: Annotated[Actor, power(Action.RECORD_AMEND)],
          platform: PlatformDep) -> AmendmentOut:
    """Amend the frozen record (planner) with a published reason: ``record`` is "plan",
    "assessment" or "engagement". The gates are checked again; when an answer changes,
    an authorised or active deployment goes back to notice_published and must be
    authorised again."""
    return AmendmentOut.model_validate(
        amendments.amend_record(platform, actor, deployment_id, data))


@router.get("/{deployment_id}/comments", response_model=list[CommentOut])
def comments(deployment_id: IdPath, actor: Reader, platform: PlatformDep) -> list[CommentOut]:
    return [CommentOut.model_validate(c)
            for c in deployments.comments_for(platform, actor, deployment_id)]


@router.post("/{deployment_id}/comments", response_model=CommentOut, status_code=201)
def add_comment(deployment_id: IdPath, data: CommentIn,
                actor: Annotated[Actor, power(Action.COMMENT_RECORD)],
                platform: PlatformDep) -> CommentOut:
    """A formal comment (oversight; a councillor in their areas), published."""
    return CommentOut.model_validate(deployments.add_comment(platform, actor, deployment_id,
                                                             data))
