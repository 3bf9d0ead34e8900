"""Consultations (staff side) and public feedback handling."""

from __future__ import annotations

from fastapi import APIRouter

from openlfr.services import consultations
from openlfr.services.platform import Role
from openlfr.services.schemas import AnswerIn, ConsultationIn, ModerationIn
from openlfr.storage import models as m
from openlfr.web.api import AUTH_ERRORS, CONFLICT, NOT_FOUND
from openlfr.web.deps import IdPath, Planner, PlannerOrAuthoriser, PlatformDep, Staff
from openlfr.web.schemas import (
    ConsultationResultsOut,
    ConsultationStaffOut,
    FeedbackStaffOut,
    QuestionOut,
    WordingIssueOut,
)

router = APIRouter(tags=["consultations"], responses={**AUTH_ERRORS, **NOT_FOUND})


def consultation_staff_out(c: m.Consultation) -> ConsultationStaffOut:
    issues = [WordingIssueOut(where=where, excerpt=i.excerpt, problem=i.problem)
              for where, found in consultations.wording_issues(c).items() for i in found]
    return ConsultationStaffOut(
        id=c.id, deployment_id=c.deployment_id, benefits=c.benefits, risks=c.risks,
        questions=[QuestionOut(**q) for q in c.questions], status=c.status,
        opened_at=c.opened_at, closed_at=c.closed_at, wording_issues=issues)


@router.get("/deployments/{deployment_id}/consultation", response_model=ConsultationStaffOut)
def get_consultation(deployment_id: IdPath, actor: Staff,
                     platform: PlatformDep) -> ConsultationStaffOut:
    """The consultation with any leading wording flagged."""
    return consultation_staff_out(consultations.get_consultation(platform, deployment_id))


@router.put("/deployments/{deployment_id}/consultation", response_model=ConsultationStaffOut,
            responses=CONFLICT)
def save_consultation(deployment_id: IdPath, data: ConsultationIn, actor: Planner,
                      platform: PlatformDep) -> ConsultationStaffOut:
    """Create or rewrite the draft: information sheet (benefits and risks) and questions."""
    return consultation_staff_out(
        consultations.save_consultation(platform, actor, deployment_id, data))


@router.post("/deployments/{deployment_id}/consultation/open",
             response_model=ConsultationStaffOut, responses=CONFLICT)
def open_consultation(deployment_id: IdPath, actor: Planner,
                      platform: PlatformDep) -> ConsultationStaffOut:
    """Open for anonymous responses; refused while the wording check finds problems."""
    return consultation_staff_out(consultations.open_consultation(platform, actor, deployment_id))


@router.post("/deployments/{deployment_id}/consultation/close",
             response_model=ConsultationStaffOut, responses=CONFLICT)
def close_consultation(deployment_id: IdPath, actor: Planner,
                       platform: PlatformDep) -> ConsultationStaffOut:
    """Close; results become public."""
    return consultation_staff_out(
        consultations.close_consultation(platform, actor, deployment_id))


@router.get("/deployments/{deployment_id}/consultation/results",
            response_model=ConsultationResultsOut)
def consultation_results(deployment_id: IdPath, actor: Staff,
                         platform: PlatformDep) -> ConsultationResultsOut:
    c = consultations.get_consultation(platform, deployment_id)
    r = consultations.consultation_results(platform, c.id)
    return ConsultationResultsOut(responses=r.responses, tallies=r.tallies)


@router.get("/deployments/{deployment_id}/feedback", response_model=list[FeedbackStaffOut])
def list_feedback(deployment_id: IdPath, actor: Staff,
                  platform: PlatformDep) -> list[FeedbackStaffOut]:
    """Feedback with answer deadlines. Contact details are shown only to the planners and
    authorisers who must reply; other roles see them blanked."""
    may_see_contact = actor.role in (Role.PLANNER, Role.AUTHORISER)
    result = []
    for f in consultations.list_feedback(platform, deployment_id):
        out = FeedbackStaffOut.model_validate(f)
        if not may_see_contact:
            out.contact = None
        result.append(out)
    return result


@router.post("/feedback/{feedback_id}/answer", response_model=FeedbackStaffOut)
def answer_feedback(feedback_id: IdPath, data: AnswerIn, actor: PlannerOrAuthoriser,
                    platform: PlatformDep) -> FeedbackStaffOut:
    """Publish an answer."""
    return FeedbackStaffOut.model_validate(
        consultations.answer_feedback(platform, actor, feedback_id, data))


@router.post("/feedback/{feedback_id}/hide", response_model=FeedbackStaffOut)
def hide_feedback(feedback_id: IdPath, data: ModerationIn, actor: PlannerOrAuthoriser,
                  platform: PlatformDep) -> FeedbackStaffOut:
    """Withhold abusive text from the public view (moderation is for abuse only)."""
    return FeedbackStaffOut.model_validate(
        consultations.hide_feedback(platform, actor, feedback_id, data))
