"""Community impact assessments and engagement logs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from openlfr.services import assessments
from openlfr.services.assessments import AssessmentView
from openlfr.services.platform import Actor
from openlfr.services.powers import Action
from openlfr.services.schemas import EngagementEventIn, ImpactAssessmentIn
from openlfr.web.api import AUTH_ERRORS, CONFLICT, NOT_FOUND
from openlfr.web.deps import IdPath, PlatformDep, power
from openlfr.web.schemas import AssessmentOut, EngagementEventOut, FindingOut

router = APIRouter(prefix="/deployments/{deployment_id}", tags=["assessments"],
                   responses={**AUTH_ERRORS, **NOT_FOUND})
EngagementWriter = Annotated[Actor, power(Action.ENGAGEMENT_WRITE)]


def assessment_out(view: AssessmentView) -> AssessmentOut:
    return AssessmentOut(
        deployment_id=view.deployment_id, engagement_summary=view.engagement_summary,
        consultation_findings=view.consultation_findings, complete=view.complete,
        findings=[FindingOut.model_validate(f) for f in view.findings],
        published_at=view.published_at, updated_at=view.updated_at, **view.sections)


@router.get("/assessment", response_model=AssessmentOut)
def get_assessment(deployment_id: IdPath, actor: Annotated[Actor, power(Action.ASSESSMENT_READ)],
                   platform: PlatformDep) -> AssessmentOut:
    """The assessment with derived sections and what still keeps it from being complete."""
    return assessment_out(assessments.view_assessment(platform, actor, deployment_id))


@router.put("/assessment", response_model=AssessmentOut, responses=CONFLICT)
def save_assessment(deployment_id: IdPath, data: ImpactAssessmentIn,
                    actor: Annotated[Actor, power(Action.ASSESSMENT_WRITE)],
                    platform: PlatformDep) -> AssessmentOut:
    """Write the typed sections (un-publishes the assessment until published again).
    Refused once the deployment is authorised: then a change is a public amendment."""
    return assessment_out(assessments.save_assessment(platform, actor, deployment_id, data))


@router.post("/assessment/publish", response_model=AssessmentOut, responses=CONFLICT)
def publish_assessment(deployment_id: IdPath,
                       actor: Annotated[Actor, power(Action.ASSESSMENT_PUBLISH)],
                       platform: PlatformDep) -> AssessmentOut:
    """Publish; refused (409) with the findings while it is incomplete."""
    return assessment_out(assessments.publish_assessment(platform, actor, deployment_id))


@router.get("/engagement", response_model=list[EngagementEventOut])
def list_engagement(deployment_id: IdPath,
                    actor: Annotated[Actor, power(Action.ENGAGEMENT_READ)],
                    platform: PlatformDep) -> list[EngagementEventOut]:
    return [EngagementEventOut.model_validate(e)
            for e in assessments.list_engagement_events(platform, actor, deployment_id)]


@router.post("/engagement", response_model=EngagementEventOut, status_code=201,
             responses=CONFLICT)
def add_engagement(deployment_id: IdPath, data: EngagementEventIn, actor: EngagementWriter,
                   platform: PlatformDep) -> EngagementEventOut:
    """Log who was met (the body or group), how, how many, and what they asked. The date
    must lie between the deployment's first draft (less the engagement window) and its
    authorisation, and not in the future (422 says why); once it is authorised the log
    changes only by a public amendment (409)."""
    return EngagementEventOut.model_validate(
        assessments.add_engagement_event(platform, actor, deployment_id, data))


@router.put("/engagement/{event_id}", response_model=EngagementEventOut, responses=CONFLICT)
def replace_engagement(deployment_id: IdPath, event_id: IdPath, data: EngagementEventIn,
                       actor: EngagementWriter, platform: PlatformDep) -> EngagementEventOut:
    """Correct a logged event."""
    return EngagementEventOut.model_validate(assessments.replace_engagement_event(
        platform, actor, deployment_id, event_id, data))


@router.delete("/engagement/{event_id}", status_code=204, responses=CONFLICT)
def delete_engagement(deployment_id: IdPath, event_id: IdPath, actor: EngagementWriter,
                      platform: PlatformDep) -> None:
    """Remove an event logged in error."""
    assessments.delete_engagement_event(platform, actor, deployment_id, event_id)


@router.post("/engagement/{event_id}/evidence", response_model=EngagementEventOut,
             responses=CONFLICT)
def attach_evidence(deployment_id: IdPath, event_id: IdPath, actor: EngagementWriter,
                    platform: PlatformDep,
                    evidence: Annotated[UploadFile, File(
                        description="Minutes or a sign-in sheet, as a PDF (published): "
                        "redact personal details (names, addresses, e-mails, phone numbers, "
                        "signatures) before uploading.")],
                    ) -> EngagementEventOut:
    """Attach the evidence of an event (a PDF, published on the deployment's page).
    Refused (409) once the log is frozen: then it can only be redacted or removed."""
    return EngagementEventOut.model_validate(assessments.attach_evidence(
        platform, actor, deployment_id, event_id, assessments.Evidence(
            evidence.filename or "evidence.pdf", evidence.file.read())))


@router.post("/engagement/{event_id}/evidence/redaction", response_model=EngagementEventOut,
             responses=CONFLICT)
def redact_evidence(deployment_id: IdPath, event_id: IdPath, actor: EngagementWriter,
                    platform: PlatformDep,
                    reason: Annotated[str, Form(
                        max_length=5000, description="Why, for privacy (published with the "
                        "event): what personal details it held, in at least 40 characters "
                        "of substance.")],
                    evidence: Annotated[UploadFile | None, File(
                        description="The redacted copy, as a PDF; leave it out to remove "
                        "the evidence.")] = None) -> EngagementEventOut:
    """Replace an event's published PDF by a redacted copy (once: a second copy is 409),
    or remove it (no file), for the privacy of the people in it, with a published reason.
    At any status, the frozen log included: nothing else of the event changes, nor do the
    gates."""
    return EngagementEventOut.model_validate(assessments.redact_evidence(
        platform, actor, deployment_id, event_id, reason, None if evidence is None else
        assessments.Evidence(evidence.filename or "evidence.pdf", evidence.file.read())))
