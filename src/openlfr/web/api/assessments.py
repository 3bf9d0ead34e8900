"""Community impact assessments and engagement logs."""

from __future__ import annotations

from fastapi import APIRouter

from openlfr.services import assessments
from openlfr.services.assessments import AssessmentView
from openlfr.services.schemas import EngagementEventIn, ImpactAssessmentIn
from openlfr.web.api import AUTH_ERRORS, CONFLICT, NOT_FOUND
from openlfr.web.deps import IdPath, Planner, PlannerOrAuthoriser, PlatformDep, Staff
from openlfr.web.schemas import AssessmentOut, EngagementEventOut, FindingOut

router = APIRouter(prefix="/deployments/{deployment_id}", tags=["assessments"],
                   responses={**AUTH_ERRORS, **NOT_FOUND})


def assessment_out(view: AssessmentView) -> AssessmentOut:
    return AssessmentOut(
        deployment_id=view.deployment_id, engagement_summary=view.engagement_summary,
        consultation_findings=view.consultation_findings, complete=view.complete,
        findings=[FindingOut.model_validate(f) for f in view.findings],
        published_at=view.published_at, updated_at=view.updated_at, **view.sections)


@router.get("/assessment", response_model=AssessmentOut)
def get_assessment(deployment_id: IdPath, actor: Staff, platform: PlatformDep) -> AssessmentOut:
    """The assessment with derived sections and what still keeps it from being complete."""
    return assessment_out(assessments.view_assessment(platform, deployment_id))


@router.put("/assessment", response_model=AssessmentOut)
def save_assessment(deployment_id: IdPath, data: ImpactAssessmentIn, actor: Planner,
                    platform: PlatformDep) -> AssessmentOut:
    """Write the typed sections (un-publishes the assessment until published again)."""
    return assessment_out(assessments.save_assessment(platform, actor, deployment_id, data))


@router.post("/assessment/publish", response_model=AssessmentOut, responses=CONFLICT)
def publish_assessment(deployment_id: IdPath, actor: PlannerOrAuthoriser,
                       platform: PlatformDep) -> AssessmentOut:
    """Publish; refused (409) with the findings while it is incomplete."""
    return assessment_out(assessments.publish_assessment(platform, actor, deployment_id))


@router.get("/engagement", response_model=list[EngagementEventOut])
def list_engagement(deployment_id: IdPath, actor: Staff,
                    platform: PlatformDep) -> list[EngagementEventOut]:
    return [EngagementEventOut.model_validate(e)
            for e in assessments.list_engagement_events(platform, deployment_id)]


@router.post("/engagement", response_model=EngagementEventOut, status_code=201)
def add_engagement(deployment_id: IdPath, data: EngagementEventIn, actor: Planner,
                   platform: PlatformDep) -> EngagementEventOut:
    """Log who was engaged, how, how many, and what they asked."""
    return EngagementEventOut.model_validate(
        assessments.add_engagement_event(platform, actor, deployment_id, data))


@router.put("/engagement/{event_id}", response_model=EngagementEventOut)
def replace_engagement(deployment_id: IdPath, event_id: IdPath, data: EngagementEventIn,
                       actor: Planner, platform: PlatformDep) -> EngagementEventOut:
    """Correct a logged event."""
    return EngagementEventOut.model_validate(assessments.replace_engagement_event(
        platform, actor, deployment_id, event_id, data))


@router.delete("/engagement/{event_id}", status_code=204)
def delete_engagement(deployment_id: IdPath, event_id: IdPath, actor: Planner,
                      platform: PlatformDep) -> None:
    """Remove an event logged in error."""
    assessments.delete_engagement_event(platform, actor, deployment_id, event_id)
