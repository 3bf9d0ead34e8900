"""Deployments: draft, edit, lifecycle transitions, gate report, overrides, comments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from openlfr.governance.gates import GateReport
from openlfr.governance.lifecycle import DeploymentStatus, Transition
from openlfr.services import deployments, rescheduling
from openlfr.services.deployments import TransitionOutcome
from openlfr.services.platform import Actor, Platform
from openlfr.services.schemas import (
    CancelIn,
    CommentIn,
    DeploymentIn,
    DeploymentPatch,
    RescheduleIn,
    ReviewIn,
    TransitionIn,
)
from openlfr.web.api import AUTH_ERRORS, CONFLICT, GATE_CONFLICT, NOT_FOUND
from openlfr.web.deps import IdPath, Oversight, Planner, PlatformDep, Staff
from openlfr.web.schemas import (
    CommentOut,
    DeploymentOut,
    GateOut,
    GateReportOut,
    OverrideOut,
    TransitionOut,
)

#: authorise/activate take an optional body (only needed to override failing gates).
OptionalTransition = Annotated[TransitionIn | None, Body()]

router = APIRouter(prefix="/deployments", tags=["deployments"],
                   responses={**AUTH_ERRORS, **NOT_FOUND})


def gate_report_out(report: GateReport) -> GateReportOut:
    return GateReportOut(all_passed=report.all_passed,
                         gates=[GateOut.model_validate(g) for g in report.results])


@router.get("", response_model=list[DeploymentOut])
def list_deployments(actor: Staff, platform: PlatformDep,
                     status: DeploymentStatus | None = None) -> list[DeploymentOut]:
    """All deployments, drafts included, newest start first."""
    return [DeploymentOut.model_validate(d) for d in deployments.list_deployments(platform, status)]


@router.post("", response_model=DeploymentOut, status_code=201)
def create_deployment(data: DeploymentIn, actor: Planner, platform: PlatformDep) -> DeploymentOut:
    """Draft a deployment (private until notice is published)."""
    return DeploymentOut.model_validate(deployments.create_deployment(platform, actor, data))


@router.get("/{deployment_id}", response_model=DeploymentOut)
def get_deployment(deployment_id: IdPath, actor: Staff, platform: PlatformDep) -> DeploymentOut:
    return DeploymentOut.model_validate(deployments.get_deployment(platform, deployment_id))


@router.patch("/{deployment_id}", response_model=DeploymentOut, responses=CONFLICT)
def update_deployment(deployment_id: IdPath, data: DeploymentPatch, actor: Planner,
                      platform: PlatformDep) -> DeploymentOut:
    """Change the plan; refused once notice has been published."""
    return DeploymentOut.model_validate(
        deployments.update_deployment(platform, actor, deployment_id, data))


@router.get("/{deployment_id}/gates", response_model=GateReportOut)
def gates(deployment_id: IdPath, actor: Staff, platform: PlatformDep) -> GateReportOut:
    """Every gate's verdict now, with its plain-English reason."""
    return gate_report_out(deployments.gate_report(platform, deployment_id))


def _transition_out(outcome: TransitionOutcome) -> TransitionOut:
    return TransitionOut(
        deployment=DeploymentOut.model_validate(outcome.deployment),
        gates=[GateOut.model_validate(g) for g in outcome.gates.results] if outcome.gates else None,
        override=OverrideOut.model_validate(outcome.override) if outcome.override else None)


def _move(platform: Platform, actor: Actor, deployment_id: int, action: Transition,
          justification: str | None = None, note: str | None = None) -> TransitionOut:
    return _transition_out(deployments.transition_deployment(
        platform, actor, deployment_id, action, override_justification=justification, note=note))


@router.post("/{deployment_id}/propose", response_model=TransitionOut, responses=CONFLICT)
def propose(deployment_id: IdPath, actor: Staff, platform: PlatformDep) -> TransitionOut:
    """draft -> proposed (planner)."""
    return _move(platform, actor, deployment_id, Transition.PROPOSE)


@router.post("/{deployment_id}/publish-notice", response_model=TransitionOut, responses=CONFLICT)
def publish_notice(deployment_id: IdPath, actor: Staff, platform: PlatformDep) -> TransitionOut:
    """proposed -> notice_published (planner or authoriser): the public notice period starts."""
    return _move(platform, actor, deployment_id, Transition.PUBLISH_NOTICE)


@router.post("/{deployment_id}/authorise", response_model=TransitionOut, responses=GATE_CONFLICT)
def authorise(deployment_id: IdPath, actor: Staff, platform: PlatformDep,
              data: OptionalTransition = None) -> TransitionOut:
    """notice_published -> authorised (authoriser). Refused with the failing gates unless
    all pass or ``override_justification`` is given (published with the deployment)."""
    return _move(platform, actor, deployment_id, Transition.AUTHORISE,
                 data.override_justification if data else None)


@router.post("/{deployment_id}/activate", response_model=TransitionOut, responses=GATE_CONFLICT)
def activate(deployment_id: IdPath, actor: Staff, platform: PlatformDep,
             data: OptionalTransition = None) -> TransitionOut:
    """authorised -> active (operator or authoriser); the gates are checked again.
    Only an authoriser may override."""
    return _move(platform, actor, deployment_id, Transition.ACTIVATE,
                 data.override_justification if data else None)


@router.post("/{deployment_id}/complete", response_model=TransitionOut, responses=CONFLICT)
def complete(deployment_id: IdPath, actor: Staff, platform: PlatformDep) -> TransitionOut:
    """active -> completed (operator or authoriser); the watchlist is destroyed."""
    return _move(platform, actor, deployment_id, Transition.COMPLETE)


@router.post("/{deployment_id}/review", response_model=TransitionOut, responses=CONFLICT)
def review(deployment_id: IdPath, data: ReviewIn, actor: Staff,
           platform: PlatformDep) -> TransitionOut:
    """completed -> reviewed (oversight or authoriser), with a published summary."""
    return _move(platform, actor, deployment_id, Transition.REVIEW, note=data.summary)


@router.post("/{deployment_id}/cancel", response_model=TransitionOut, responses=CONFLICT)
def cancel(deployment_id: IdPath, data: CancelIn, actor: Staff,
           platform: PlatformDep) -> TransitionOut:
    """Cancel before activation (planner or authoriser), with a published reason."""
    return _move(platform, actor, deployment_id, Transition.CANCEL, note=data.reason)


@router.post("/{deployment_id}/reschedule", response_model=TransitionOut, responses=CONFLICT)
def reschedule(deployment_id: IdPath, data: RescheduleIn, actor: Staff,
               platform: PlatformDep) -> TransitionOut:
    """New dates after notice (planner or authoriser), with a published reason. From
    notice_published or authorised, back to notice_published: the notice period runs
    again from now, and an authorisation for the old dates is withdrawn. Subscribers of
    the area are e-mailed."""
    return TransitionOut(deployment=DeploymentOut.model_validate(
        rescheduling.reschedule_deployment(platform, actor, deployment_id, data)))


@router.get("/{deployment_id}/overrides", response_model=list[OverrideOut])
def overrides(deployment_id: IdPath, actor: Staff, platform: PlatformDep) -> list[OverrideOut]:
    """Gate overrides recorded for this deployment (also public)."""
    deployments.get_deployment(platform, deployment_id)
    return [OverrideOut.model_validate(o) for o in deployments.overrides_for(platform,
                                                                             deployment_id)]


@router.get("/{deployment_id}/comments", response_model=list[CommentOut])
def comments(deployment_id: IdPath, actor: Staff, platform: PlatformDep) -> list[CommentOut]:
    return [CommentOut.model_validate(c) for c in deployments.comments_for(platform,
                                                                           deployment_id)]


@router.post("/{deployment_id}/comments", response_model=CommentOut, status_code=201)
def add_comment(deployment_id: IdPath, data: CommentIn, actor: Oversight,
                platform: PlatformDep) -> CommentOut:
    """A formal oversight comment (published)."""
    return CommentOut.model_validate(deployments.add_comment(platform, actor, deployment_id, data))
